#!/usr/bin/env python3
"""Writes the .pt fixtures of tests/models/gating/trace_torch_test.cc without PyTorch, in the
layout torch.save (PyTorch >= 1.6, torch/serialization.py) writes: a zip archive of STORED entries
ARCHIVE/data.pkl (pickle protocol 2; each tensor reduced to torch._utils._rebuild_tensor_v2 on a
persistent id ('storage', torch.<Type>Storage, key, location, numel) with an empty OrderedDict of
backward hooks), ARCHIVE/data/KEY (each storage's little-endian bytes), ARCHIVE/byteorder and
ARCHIVE/version, where ARCHIVE is the file name without its extension. The pickle is made by
Python's own pickle module from stand-ins registered as the torch globals, so its opcodes are the
ones torch.save emits.

  make_fixtures.py OUT_DIR
"""
import collections
import pathlib
import pickle
import struct
import sys
import types
import zipfile

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")


def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
torch._utils = torch_utils
STORAGE_TYPES = {}
for name, fmt in (("FloatStorage", "<f"), ("BFloat16Storage", "bf16"), ("IntStorage", "<i"), ("LongStorage", "<q")):
    cls = type(name, (), {"__module__": "torch"})
    setattr(torch, name, cls)
    STORAGE_TYPES[name] = (cls, fmt)
sys.modules["torch"], sys.modules["torch._utils"] = torch, torch_utils


class Storage:
    def __init__(self, kind, values, location="cpu"):
        self.kind, self.values, self.location = kind, values, location

    def raw(self):
        fmt = STORAGE_TYPES[self.kind][1]
        if fmt == "bf16":  # the top half of each float32
            return b"".join(struct.pack("<f", v)[2:] for v in self.values)
        return b"".join(struct.pack(fmt, v) for v in self.values)


class Tensor:
    def __init__(self, storage, shape, stride=None, offset=0):
        if stride is None:
            stride, n = [], 1
            for d in reversed(shape):
                stride.insert(0, n)
                n *= d
        self.storage, self.shape, self.stride, self.offset = storage, tuple(shape), tuple(stride), offset

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


def save(obj, path):
    storages = []

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, Storage):
                if o not in storages:
                    storages.append(o)
                key = str(storages.index(o))
                return ("storage", STORAGE_TYPES[o.kind][0], key, o.location, len(o.values))
            return None

    import io
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    archive = path.stem

    def entry(name):  # a fixed date, as torch.save writes: the fixtures are the same bytes every time
        return zipfile.ZipInfo(f"{archive}/{name}", date_time=(1980, 1, 1, 0, 0, 0))

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(entry("data.pkl"), buf.getvalue())
        z.writestr(entry("byteorder"), "little")
        for i, s in enumerate(storages):
            z.writestr(entry(f"data/{i}"), s.raw())
        z.writestr(entry("version"), "3\n")


def main(out):
    out = pathlib.Path(out)
    # SGLang stat dump: 6 forward passes x 4 layers (layer 0 dense, never routed) x 4 experts,
    # 8 assignments per routed layer and pass; passes 4 and 5 are the recorder's unfilled buffer.
    count = [0] * (6 * 4 * 4)
    rows = {(0, 1): [5, 1, 2, 0], (0, 2): [2, 2, 2, 2], (0, 3): [0, 0, 0, 8],
            (1, 1): [1, 1, 3, 3], (1, 2): [4, 4, 0, 0], (1, 3): [2, 1, 1, 4],
            (2, 1): [8, 0, 0, 0], (2, 2): [0, 8, 0, 0], (2, 3): [0, 0, 8, 0],
            (3, 1): [2, 2, 2, 2], (3, 2): [1, 3, 1, 3], (3, 3): [6, 0, 1, 1]}
    for (p, l), r in rows.items():
        count[(p * 4 + l) * 4:(p * 4 + l) * 4 + 4] = r
    save({"rank": 0, "logical_count": Tensor(Storage("IntStorage", count, "cuda:0"), [6, 4, 4]),
          "average_utilization_rate_over_window": None}, out / "expert_distribution_recorder_1764547200.5.pt")
    # A dump of the per_token mode, which the importer refuses.
    save({"records": [], "last_physical_to_logical_map": Tensor(Storage("LongStorage", [0, 1, 2, 3]), [1, 4])},
         out / "expert_distribution_recorder_detail.pt")

    # Hugging Face router logits, top-2: step 100 as bfloat16 [3 tokens, 4 experts] per layer,
    # layer 1 a transposed view of a [4, 3] storage; step 110 as float32 [1, 3, 4].
    l0 = [4, 3, 0, -1,   0, 2, 5, 1,   1, 1, 1, 0.5]      # top-2: {0,1}, {2,1}, {0,1} (ties to the lower)
    l1_t = [0, 1, 9,   7, 0, 8,   6, 3, 0,   -2, 2, 1]    # [expert][token]: token 0 {1,2}, 1 {3,2}, 2 {0,1}
    step100 = (Tensor(Storage("BFloat16Storage", l0), [3, 4]), Tensor(Storage("BFloat16Storage", l1_t), [3, 4], stride=[1, 3]))
    save(step100, out / "router_logits_step100.pt")
    l2 = [0, 0, 1, 2,   3, 0, 0, 2,   0, 5, 4, 0]         # {3,2}, {0,3}, {1,2}
    l3 = [1, 2, 3, 4,   4, 3, 2, 1,   2, 9, 9, 0]         # {3,2}, {0,1}, {1,2}
    save((Tensor(Storage("FloatStorage", l2), [1, 3, 4]), Tensor(Storage("FloatStorage", l3), [1, 3, 4])), out / "router_logits_step110.pt")


if __name__ == "__main__":
    main(sys.argv[1])
