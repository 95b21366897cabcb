"""Peak memory and time of RNN-T loss+grad: naive, full, fused and pruned forms.

Each form computes loss and gradients w.r.t. the joint's parameters, the
encoder output and the predictor output, starting from ``[B, T, D]`` and
``[B, U+1, D]``. ``naive_full`` and ``full`` materialize the ``[B, T, U+1, V]``
joint logits; ``fused`` evaluates the joint ``time_chunk`` frames at a time;
``pruned`` (``asr.losses.pruned``, what ``small`` trains with) adds the
trivial-joint projections ``am``/``lm`` (two ``D x V`` layers), computes the
simple loss and its band, and evaluates the real joint on ``--prune_range``
columns per frame only. Its loss is the band's (>= the full loss, equal when
the band covers the lattice), so it is left out of the forms' agreement check
and reported as ``pruned_minus_full`` instead.

Memory is XLA's buffer assignment for the compiled step (arguments + outputs
+ temporaries), which is exact on CPU where no allocator statistics exist. On
GPU each form also runs in a fresh process so the allocator's
``peak_bytes_in_use`` belongs to that form alone.

    python -m benchmarks.rnnt_loss_memory            # B=8 T=200 U=50 V=1024
    python -m benchmarks.rnnt_loss_memory --small    # seconds, for smoke tests
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from asr.losses import pruned as pruned_lib
from asr.losses import rnnt
from benchmarks import common

FORMS = ("naive_full", "full", "fused", "pruned")


class Joint(nn.Module):
    """Additive transducer joint: ``Dense(V)(tanh(W_e enc + W_p pred))``."""
    dim: int
    vocab: int

    @nn.compact
    def __call__(self, enc, pred):
        h = nn.Dense(self.dim)(enc) + nn.Dense(self.dim, use_bias=False)(pred)
        return nn.Dense(self.vocab)(jnp.tanh(h))


class Trivial(nn.Module):
    """The pruned loss's trivial joint: ``am = W_a enc``, ``lm = W_l pred``."""
    vocab: int

    @nn.compact
    def __call__(self, enc, pred):
        return nn.Dense(self.vocab, name="am")(enc), nn.Dense(self.vocab, name="lm")(pred)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--labels", type=int, default=50)
    p.add_argument("--vocab", type=int, default=1024)
    p.add_argument("--dim", type=int, default=256, help="joint hidden size")
    p.add_argument("--time_chunk", type=int, default=16)
    p.add_argument("--prune_range", type=int, default=5,
                   help="pruned form: band width S (small trains with 5)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed runs after compile and one warm-up")
    p.add_argument("--forms", default=",".join(FORMS))
    p.add_argument("--small", action="store_true",
                   help="B=2 T=32 U=8 V=64 D=32, for quick checks")
    p.add_argument("--isolate", choices=("auto", "yes", "no"), default="auto",
                   help="one process per form (auto: on non-CPU backends)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child_form", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.small:
        args.batch, args.frames, args.labels = 2, 32, 8
        args.vocab, args.dim = 64, 32
    args.forms = [f for f in args.forms.split(",") if f]
    unknown = set(args.forms) - set(FORMS)
    if unknown:
        p.error(f"unknown forms {sorted(unknown)}; choose from {FORMS}")
    return args


def make_inputs(args, form=""):
    rng = np.random.default_rng(args.seed)
    b, t, u, d = args.batch, args.frames, args.labels, args.dim
    enc = jnp.asarray(rng.normal(size=(b, t, d)), jnp.float32)
    pred = jnp.asarray(rng.normal(size=(b, u + 1, d)), jnp.float32)
    labels = jnp.asarray(rng.integers(1, args.vocab, size=(b, u)), jnp.int32)
    # Realistic ragged batch; the longest example spans the whole lattice.
    logit_lengths = rng.integers(t // 2, t + 1, size=b)
    label_lengths = rng.integers(u // 2, u + 1, size=b)
    logit_lengths[0], label_lengths[0] = t, u
    joint = Joint(dim=d, vocab=args.vocab)
    params = joint.init(jax.random.key(args.seed), enc[:1, :1, None],
                        pred[:1, None, :1])
    if form == "pruned":  # Only this form trains the trivial joint.
        params = {"joint": params, "trivial": Trivial(args.vocab).init(
            jax.random.key(args.seed + 1), enc[:1, :1], pred[:1, :1])}
    return joint, params, enc, pred, labels, jnp.asarray(
        logit_lengths, jnp.int32), jnp.asarray(label_lengths, jnp.int32)


def loss_and_grad_fn(form, joint, time_chunk, prune_range=5):
    """``(params, enc, pred, labels, T_b, U_b) -> (mean loss, losses, grads)``.

    For ``pruned`` the mean is of ``pruned + simple`` (as in training with
    ``simple_scale=1``); ``losses`` are the pruned NLLs.
    """

    def total(params, enc, pred, labels, logit_lengths, label_lengths):
        if form == "pruned":
            am, lm = Trivial(joint.vocab).apply(params["trivial"], enc, pred)
            losses, simple = pruned_lib.pruned_rnnt_loss(
                enc, pred, am, lm, lambda e, p: joint.apply(params["joint"], e, p),
                labels, logit_lengths, label_lengths, s_range=prune_range)
            return jnp.mean(losses + simple), losses
        if form == "fused":
            losses = rnnt.rnnt_loss_fused(
                enc, pred, lambda e, p: joint.apply(params, e, p), labels,
                logit_lengths, label_lengths, time_chunk=time_chunk)
        else:
            logits = joint.apply(params, enc[:, :, None], pred[:, None])
            fn = rnnt.rnnt_loss_naive if form == "naive_full" else rnnt.rnnt_loss
            losses = fn(logits, labels, logit_lengths, label_lengths)
        return jnp.mean(losses), losses

    grad = jax.value_and_grad(total, argnums=(0, 1, 2), has_aux=True)

    def step(*inputs):
        (mean, losses), grads = grad(*inputs)
        return mean, losses, grads

    return step


def _nbytes(tree):
    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def measure(form, args):
    joint, params, *data = make_inputs(args, form)
    inputs = (params, *data)
    step = jax.jit(loss_and_grad_fn(form, joint, args.time_chunk, args.prune_range))

    t0 = time.perf_counter()
    compiled = step.lower(*inputs).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()

    jax.block_until_ready(compiled(*inputs))  # Warm-up.
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*inputs))
        times.append(time.perf_counter() - t0)
    _, losses, grads = out

    result = {
        "time_s_median": statistics.median(times),
        "time_s_all": times,
        "compile_s": compile_s,
        "memory": {
            field: int(getattr(mem, field)) for field in (
                "argument_size_in_bytes", "output_size_in_bytes",
                "temp_size_in_bytes", "alias_size_in_bytes",
                "generated_code_size_in_bytes", "peak_memory_in_bytes")
            if hasattr(mem, field)
        },
        "losses": np.asarray(losses).tolist(),
        "grad_global_norm": float(jnp.sqrt(sum(
            jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grads)))),
        "grads_finite": bool(all(jnp.all(jnp.isfinite(g))
                                 for g in jax.tree.leaves(grads))),
    }
    m = result["memory"]
    # Everything live at once in the worst case: inputs, outputs, scratch.
    result["peak_bytes"] = (m["argument_size_in_bytes"]
                            + m["output_size_in_bytes"]
                            + m["temp_size_in_bytes"])
    result["logits_bytes"] = 4 * args.batch * args.frames * (
        args.labels + 1) * args.vocab
    result["input_bytes"] = _nbytes(inputs)
    device = jax.devices()[0]
    stats = device.memory_stats() if jax.default_backend() != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        result["device_peak_bytes_in_use"] = int(stats["peak_bytes_in_use"])
    return result


def measure_in_subprocess(form, argv):
    cmd = [sys.executable, "-m", "benchmarks.rnnt_loss_memory", *argv,
           "--child_form", form]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child_form:
        print(json.dumps(measure(args.child_form, args)))
        return None

    isolate = (args.isolate == "yes" or
               (args.isolate == "auto" and jax.default_backend() != "cpu"))
    metrics = {}
    for form in args.forms:
        metrics[form] = (measure_in_subprocess(form, argv) if isolate
                         else measure(form, args))

    ratios = {}
    if "fused" in metrics:
        fused = metrics["fused"]
        for form in ("naive_full", "full", "pruned"):
            if form in metrics:
                ratios[f"{form}/fused_memory"] = (
                    metrics[form]["peak_bytes"] / fused["peak_bytes"])
                ratios[f"{form}/fused_time"] = (
                    metrics[form]["time_s_median"] / fused["time_s_median"])
                if "device_peak_bytes_in_use" in fused:
                    ratios[f"{form}/fused_device_peak"] = (
                        metrics[form]["device_peak_bytes_in_use"]
                        / fused["device_peak_bytes_in_use"])
    losses = [np.asarray(m["losses"]) for f, m in metrics.items() if f != "pruned"]
    agreement = {"max_abs_loss_diff_between_forms": float(max(
        (np.abs(a - b).max() for a in losses for b in losses), default=0.0))}
    if "pruned" in metrics and losses:
        # The band drops paths: pruned NLL >= exact NLL (up to rounding).
        agreement["pruned_minus_full_min"] = float(
            (np.asarray(metrics["pruned"]["losses"]) - losses[0]).min())

    config = {k: v for k, v in vars(args).items() if k != "child_form"}
    config["isolated_processes"] = isolate
    path = common.write_result("rnnt_loss_memory",
                               {"forms": metrics, "ratios": ratios,
                                **agreement}, config)

    mib = 2.0 ** 20
    print(f"B={args.batch} T={args.frames} U={args.labels} V={args.vocab} "
          f"D={args.dim} chunk={args.time_chunk} "
          f"backend={jax.default_backend()}")
    print(f"{'form':<11} {'peak MiB':>9} {'temp MiB':>9} {'time s':>8}"
          + ("  device peak MiB" if isolate else ""))
    for form, m in metrics.items():
        line = (f"{form:<11} {m['peak_bytes'] / mib:9.1f} "
                f"{m['memory']['temp_size_in_bytes'] / mib:9.1f} "
                f"{m['time_s_median']:8.3f}")
        if "device_peak_bytes_in_use" in m:
            line += f"  {m['device_peak_bytes_in_use'] / mib:16.1f}"
        print(line)
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    print(f"max |loss diff| between forms: "
          f"{agreement['max_abs_loss_diff_between_forms']:.2e}")
    if "pruned_minus_full_min" in agreement:
        print(f"min (pruned - exact) loss: {agreement['pruned_minus_full_min']:.2e}")
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
