// Starts the compute worker: loads the wasm-bindgen glue Trunk writes for the `worker` binary
// (no-modules target) and instantiates its wasm. If that fails, the page hears about it as a
// crash of the worker, with the reason.
importScripts('./worker.js');
// The instance's exports stay reachable (self.__labWasm) for the benchmarks that read how much
// memory a worker holds (scripts/bench-pool.mjs).
wasm_bindgen({ module_or_path: './worker_bg.wasm' }).then((exports) => {
  self.__labWasm = exports;
}, (error) => {
  postMessage(JSON.stringify({
    id: 0,
    body: { kind: 'panicked', message: 'the worker could not start: ' + error },
  }));
});
