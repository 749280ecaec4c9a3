"""Speed bar for EmoSet-mini: ≥ 20,000 training images (plus 2,000 val and 2,000 test) generated and
written to disk in under a minute on the 2-core reference machine.

Run: ``OMP_NUM_THREADS=1 .venv/bin/pytest benchmarks/test_world_speed.py --benchmark-only``
"""
import itertools
import time

from emobench.world import sample_world, write_emoset_mini

_counter = itertools.count()


def test_write_20k_under_a_minute(benchmark, tmp_path):
    def write():
        return write_emoset_mini(tmp_path / f"w{next(_counter)}", seed=0, n_train=20000, n_val=2000,
                                 n_test=2000, workers=2)

    start = time.perf_counter()
    root = benchmark.pedantic(write, rounds=1, iterations=1)
    seconds = time.perf_counter() - start
    benchmark.extra_info["images_per_second"] = round(24000 / seconds)
    assert (root / "world.json").is_file()
    assert seconds < 60, f"writing 24,000 images took {seconds:.1f}s"


def test_sample_in_memory(benchmark):
    images, _ = benchmark.pedantic(sample_world, kwargs={"seed": 0, "n": 4096}, rounds=2, iterations=1)
    assert images.shape == (4096, 32, 32, 3)
