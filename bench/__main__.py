"""`python -m bench` (or `make bench`): every benchmark of the course, in one run."""

from bench import bench_probability

if __name__ == "__main__":
    print("== utils.probability ==")
    bench_probability.main()
