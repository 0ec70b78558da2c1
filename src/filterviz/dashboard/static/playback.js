// Playing the run as a film: one step per tick at the chosen speed, never ahead of the pictures (a tick
// while a step is still loading waits), the next few steps' grids loaded ahead.

const PREFETCH = 6; // steps loaded ahead while playing

export class Playback {
  // dashboard: show(index), index, steps, loading, prefetch(index); button and speed: the controls.
  constructor(win, dashboard, button, speed) {
    this.win = win;
    this.dashboard = dashboard;
    this.button = button;
    this.speed = speed;
    this.timer = null;
    button.addEventListener("click", () => (this.playing ? this.stop() : this.play()));
    speed.addEventListener("change", () => this.playing && this.play());
  }

  get playing() {
    return this.timer !== null;
  }

  play() {
    this.stop();
    const dashboard = this.dashboard;
    if (dashboard.steps.length === 0) return;
    if (dashboard.index >= dashboard.steps.length - 1) dashboard.show(0); // from the start again
    this.button.textContent = "Pause";
    this.button.setAttribute("aria-pressed", "true");
    this.timer = this.win.setInterval(() => {
      if (dashboard.index >= dashboard.steps.length - 1) return this.stop();
      if (dashboard.loading > 0) return; // every step of the film is drawn
      dashboard.show(dashboard.index + 1);
      for (let ahead = 2; ahead <= PREFETCH; ahead++) dashboard.prefetch(dashboard.index + ahead);
    }, 1000 / Number(this.speed.value));
  }

  stop() {
    if (this.timer !== null) this.win.clearInterval(this.timer);
    this.timer = null;
    this.button.textContent = "Play";
    this.button.setAttribute("aria-pressed", "false");
  }
}
