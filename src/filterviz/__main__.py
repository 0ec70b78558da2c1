"""`python -m filterviz ...` does what the `filterviz` command does."""

from filterviz.cli import main

if __name__ == "__main__":
    main()
