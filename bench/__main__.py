"""`python -m bench` (or `make bench`): every benchmark of the course, in one run."""

from bench import bench_decoding, bench_grading, bench_probability

if __name__ == "__main__":
    print("== utils.probability ==")
    bench_probability.main()
    print("\n== utils.sampling / utils.sequences ==")
    bench_decoding.main()
    print("\n== decoding lesson 09's token model ==")
    bench_decoding.token_model_decoding()
    print("\n== utils.grading vs nbgrader autograde ==")
    bench_grading.main()
