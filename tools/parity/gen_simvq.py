"""Golden fixtures for SimVQ, ResidualSimVQ and LatentQuantize
(tests/fixtures/{SimVQ,ResidualSimVQ,LatentQuantize}/).

SimVQ's state is its frozen codebook and the transform's parameters, both
drawn by the constructor; nothing else needs preparing. Inputs are scaled so
that they live at the codebook's scale (codes have norm ~0.6 for the default
Linear transform). codebook_transform uses the JSON specs of vq_callables.py;
in ResidualSimVQ one spec is one module shared by every layer (as one Python
module passed through **sim_vq_kwargs).
"""

import random

from quantizer_case import run_case

S, R, L = "SimVQ", "ResidualSimVQ", "LatentQuantize"


def dropout_seed(depth, q, cutoff=0):
    """Smallest fixed seed whose dropout depth randrange(cutoff, q) is `depth`."""
    return next(s for s in range(1000) if random.Random(s).randrange(cutoff, q) == depth)


def generate():
    sim = {"dim": 16, "codebook_size": 32}
    run_case(module=S, name="default_eval", case="SimVQ dim=16 K=32, eval: forward (rotation trick), input grads, decode",
             config=sim, mode="eval", seed=700, x_shape=(2, 8, 16), x_scale=0.3, decode="codes_from_indices")
    run_case(module=S, name="default_train", case="SimVQ dim=16 K=32, train: loss mse(sg(x), c) + 0.25 mse(x, sg(c)), grads to x and code_transform",
             config=sim, mode="train", seed=701, x_shape=(2, 8, 16), x_scale=0.3, decode="codes_from_indices")
    run_case(module=S, name="no_rotation_train", case="SimVQ rotation_trick=False: straight-through x + sg(c - x)",
             config={**sim, "rotation_trick": False}, mode="train", seed=702, x_shape=(2, 8, 16), x_scale=0.3,
             decode="codes_from_indices")
    run_case(module=S, name="channel_first_image_train", case="SimVQ channel_first=True, image (b, dim, h, w), indices (b, h, w)",
             config={**sim, "channel_first": True}, mode="train", seed=703, x_shape=(2, 16, 4, 3), x_scale=0.3,
             decode="codes_from_indices")
    run_case(module=S, name="commit_weights_train", case="SimVQ input_to_quantize_commit_loss_weight=0.5, commitment_weight=2.0",
             config={**sim, "input_to_quantize_commit_loss_weight": 0.5, "commitment_weight": 2.0}, mode="train",
             seed=704, x_shape=(2, 8, 16), x_scale=0.3)
    run_case(module=S, name="mlp_transform_train", case="SimVQ frozen_codebook_dim=8, codebook_transform MLP 8->32->16 (ReLU)",
             config={**sim, "frozen_codebook_dim": 8,
                     "codebook_transform": {"type": "mlp", "hidden": [32], "activation": "relu"}},
             mode="train", seed=705, x_shape=(2, 8, 16), x_scale=0.3, decode="codes_from_indices")
    run_case(module=S, name="single_token_train", case="SimVQ 2-D input (b, dim): indices (b,)",
             config=sim, mode="train", seed=706, x_shape=(6, 16), x_scale=0.3, decode="codes_from_indices")
    run_case(module=S, name="image_channel_last_eval", case="SimVQ channel-last image (b, h, w, dim), eval, no backward",
             config=sim, mode="eval", seed=707, x_shape=(2, 3, 4, 16), x_scale=0.3, backward=False,
             decode="codes_from_indices")

    rsim = {"dim": 16, "codebook_size": 32, "num_quantizers": 3}
    run_case(module=R, name="default_eval", case="ResidualSimVQ dim=16 K=32 q=3, eval, decode (sum of codes)",
             config=rsim, mode="eval", seed=710, x_shape=(2, 8, 16), x_scale=0.5, decode="output_from_indices")
    run_case(module=R, name="default_train", case="ResidualSimVQ q=3, train: per-layer losses (q,), grads of every layer's transform",
             config=rsim, mode="train", seed=711, x_shape=(2, 8, 16), x_scale=0.5, decode="output_from_indices")
    run_case(module=R, name="channel_first_image_train", case="ResidualSimVQ channel_first=True, image (b, dim, h, w), indices (b, h, w, q)",
             config={**rsim, "channel_first": True}, mode="train", seed=712, x_shape=(2, 16, 3, 4), x_scale=0.5,
             decode="output_from_indices")
    run_case(module=R, name="all_codes_channel_first_eval", case="ResidualSimVQ return_all_codes=True, channel_first: all_codes (q, b, dim, h, w)",
             config={**rsim, "channel_first": True}, mode="eval", seed=713, x_shape=(2, 16, 3, 4), x_scale=0.5,
             backward=False, call={"return_all_codes": True}, decode="output_from_indices")
    qd = {"dim": 16, "codebook_size": 32, "num_quantizers": 4, "quantize_dropout": True}
    run_case(module=R, name="dropout_fixed_seed_train",
             case="ResidualSimVQ q=4 quantize_dropout, rand_quantize_dropout_fixed_seed -> depth 1: layers 2, 3 dropped (index -1, loss 0), decode",
             config=qd, mode="train", seed=714, x_shape=(2, 8, 16), x_scale=0.5,
             call={"rand_quantize_dropout_fixed_seed": dropout_seed(1, 4), "return_all_codes": True},
             decode="output_from_indices")
    run_case(module=R, name="dropout_multiple_of_train",
             case="ResidualSimVQ q=4 quantize_dropout_multiple_of=2, cutoff 1, fixed seed -> depth 1 rounded up to 1",
             config={**qd, "quantize_dropout_multiple_of": 2, "quantize_dropout_cutoff_index": 1}, mode="train",
             seed=715, x_shape=(2, 8, 16), x_scale=0.5,
             call={"rand_quantize_dropout_fixed_seed": dropout_seed(1, 4, 1)}, decode="output_from_indices")
    run_case(module=R, name="shared_mlp_transform_train",
             case="ResidualSimVQ q=2 with one MLP codebook_transform shared by both layers: its gradients add up",
             config={"dim": 16, "codebook_size": 32, "num_quantizers": 2, "rotation_trick": False,
                     "codebook_transform": {"type": "mlp", "hidden": [24], "activation": "relu"}},
             mode="train", seed=716, x_shape=(2, 8, 16), x_scale=0.5, decode="output_from_indices")

    lq = {"levels": [5, 5, 8], "dim": 16}
    run_case(module=L, name="image_train", case="LatentQuantize levels [5,5,8] dim=16 (projection 16<->3), image (b, dim, h, w), train",
             config=lq, mode="train", seed=720, x_shape=(1, 16, 4, 4), decode="codes_from_indices")
    run_case(module=L, name="series_eval", case="LatentQuantize series (b, dim, n), eval (loss 0), decode",
             config=lq, mode="eval", seed=721, x_shape=(2, 16, 8), decode="codes_from_indices")
    run_case(module=L, name="video_train", case="LatentQuantize video (b, dim, t, h, w), train",
             config=lq, mode="train", seed=722, x_shape=(1, 16, 2, 3, 3), decode="codes_from_indices")
    run_case(module=L, name="no_optimize_values_train", case="LatentQuantize optimize_values=False (value tables not parameters)",
             config={**lq, "optimize_values": False}, mode="train", seed=723, x_shape=(1, 16, 4, 4),
             decode="codes_from_indices")
    run_case(module=L, name="int_levels_train", case="LatentQuantize levels=5, codebook_dim=3, dim=3 (no projection), weights 0.2 / 0.05",
             config={"levels": 5, "codebook_dim": 3, "dim": 3, "commitment_loss_weight": 0.2,
                     "quantization_loss_weight": 0.05},
             mode="train", seed=724, x_shape=(2, 3, 8), x_scale=0.4, decode="codes_from_indices")
    run_case(module=L, name="num_codebooks4_train", case="LatentQuantize num_codebooks=4, levels [5,5,8], dim=16 (projection 16<->12), indices (b, n, 4)",
             config={**lq, "num_codebooks": 4}, mode="train", seed=725, x_shape=(1, 16, 8), decode="codes_from_indices")
    # (levels such as 7 or 6 have inexact value tables whose truncated indices differ
    # between float32 and the float64 re-run of tolerance.py: unit tests cover them)
    run_case(module=L, name="odd_even_levels_train", case="LatentQuantize levels [9,4,3], dim=3, optimize_values=False: linspace tables (9, 3), k/L - 0.5 table (4)",
             config={"levels": [9, 4, 3], "dim": 3, "optimize_values": False}, mode="train", seed=726,
             x_shape=(2, 3, 8), x_scale=0.4, decode="codes_from_indices")
