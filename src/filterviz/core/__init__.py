"""The core: a kernel in, a grid and the numbers about it out. numpy only: no Keras, no files, no network.

options (the rendering options, validated), tiles (a kernel's units as image tiles), normalize (weights to
gray levels), colormaps, grid (tiles laid out), renderer (all of it for one layer: `Renderer`,
`kernel_grid`), health (the layer's health values), png (grids to PNG bytes), step (what one logged step
holds), warning (FilterVizWarning).
"""
