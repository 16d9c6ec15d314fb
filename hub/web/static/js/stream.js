// The live stream (server-sent events from /api/v1/stream) with a connection state for the header.
//
// EventSource reconnects by itself after a network error (a hub restart) and sends Last-Event-ID,
// so the hub replays what was missed. Only when the server refuses the stream (an HTTP error, e.g.
// during start-up) does EventSource give up; then we open a fresh one and reload the lists.

const RETRY_MS = 3000;

export class LiveStream {
  /**
   * handlers: onEvent(type, data), onState("connecting" | "live" | "reconnecting"),
   * onReady() after the first connection and after every fresh one (reload lists then),
   * onResync() when the hub says too much was missed.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.source = null;
    this.timer = 0;
    this.lastEventId = null;
  }

  start() {
    this.handlers.onState("connecting");
    this.open(true);
  }

  open(fresh) {
    const source = new EventSource("/api/v1/stream");
    this.source = source;
    let needsReady = fresh;
    source.addEventListener("open", () => {
      this.handlers.onState("live");
      if (needsReady) {
        needsReady = false;
        this.handlers.onReady(); // the server subscribed us before answering: nothing falls in between
      }
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      this.handlers.onState("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.open(true), RETRY_MS);
      }
    });
    for (const type of ["alarm", "device", "gateway", "alarm_image", "forwarding"]) {
      source.addEventListener(type, (event) => {
        this.lastEventId = event.lastEventId;
        document.body.dataset.lastEventId = event.lastEventId;
        this.handlers.onEvent(type, JSON.parse(event.data));
      });
    }
    source.addEventListener("resync", () => this.handlers.onResync());
  }

  stop() {
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
  }
}
