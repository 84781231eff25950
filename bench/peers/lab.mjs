// The lab's own compute worker, driven directly from the benchmark page: the very worker the
// shipped app starts (dist/worker_loader.js → worker.js + worker_bg.wasm), spoken to with the
// app's JSON protocol (src/protocol.rs: `{ id, job: { kind, … } }` → `{ id, body: { kind, … } }`).

export class LabWorker {
  constructor(worker) {
    this.worker = worker;
    this.next = 1;
    this.pending = new Map();
    worker.addEventListener('message', (event) => {
      const reply = JSON.parse(event.data);
      const body = reply.body;
      if (reply.id === 0) {
        if (body.kind === 'panicked' || body.kind === 'failed') {
          for (const p of this.pending.values()) p.reject(new Error(`lab worker: ${body.message}`));
          this.pending.clear();
        }
        return;
      }
      if (body.kind === 'progress') return;
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      body.roundTrip = performance.now() - p.posted;
      if (body.kind === 'failed' || body.kind === 'panicked' || body.kind === 'cancelled') {
        p.reject(new Error(`lab worker: ${body.kind}: ${body.message ?? ''}`));
      } else {
        p.resolve(body);
      }
    });
  }

  /** Starts the shipped worker and waits for its `ready`. */
  static start(url = '/worker_loader.js') {
    return new Promise((resolve, reject) => {
      const worker = new Worker(url);
      const onMessage = (event) => {
        const reply = JSON.parse(event.data);
        if (reply.id !== 0) return;
        worker.removeEventListener('message', onMessage);
        if (reply.body.kind === 'ready') resolve(new LabWorker(worker));
        else reject(new Error(`the lab's worker did not start: ${reply.body.message ?? reply.body.kind}`));
      };
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', (e) => reject(new Error(`the lab's worker failed: ${e.message}`)));
    });
  }

  /** Posts one job; resolves to the final reply body (with `roundTrip`, ms, as seen by the page). */
  request(job) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, posted: performance.now() });
      this.worker.postMessage(JSON.stringify({ id, job }));
    });
  }

  terminate() {
    this.worker.terminate();
  }
}
