"""The timing loop both Python peers use, so Keras and PyTorch are measured exactly alike
(and like bench/backends.ts: 2 warm-up steps, then at least 3 steps and `seconds` of wall time)."""
import json
import time


def time_loop(seconds, fn):
    """Run fn repeatedly; return (steps, wall ms, CPU ms of all threads)."""
    for _ in range(2):
        fn()
    t0 = time.perf_counter()
    c0 = time.process_time()  # CPU time of all threads, as process.cpuUsage() in Node
    steps = 0
    while steps < 3 or time.perf_counter() - t0 < seconds:
        fn()
        steps += 1
    return steps, (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def print_result(engine, threads, batch, train, predict):
    """Print the one JSON line bench/backends.ts reads, from two time_loop results."""
    steps, ms, cpu = train
    psteps, pms, pcpu = predict
    print(json.dumps({
        "engine": engine,
        "threads": threads,
        "trainSamplesPerSec": batch * steps / (ms / 1000),
        "predictSamplesPerSec": batch * psteps / (pms / 1000),
        "trainStepMs": ms / steps,
        "predictBatchMs": pms / psteps,
        "trainStepCpuMs": cpu / steps,
        "predictBatchCpuMs": pcpu / psteps,
        "steps": steps,
    }))
