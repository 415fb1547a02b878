"""Golden fixtures for FSQ (tests/fixtures/FSQ/).

FSQ has no randomness without noise_dropout; every case also stores the decode
round trip (codes_from_indices = indices_to_codes(indices)).
"""

from quantizer_case import run_case

M = "FSQ"


def generate():
    run_case(module=M, name="levels_8555_eval", case="levels [8,5,5,5], eval forward + backward (straight-through round), decode",
             config={"levels": [8, 5, 5, 5]}, mode="eval", seed=200, x_shape=(2, 8, 4), x_scale=1.5,
             decode="codes_from_indices")
    run_case(module=M, name="levels_8555_train", case="levels [8,5,5,5], train mode (same math, noise_dropout=0)",
             config={"levels": [8, 5, 5, 5]}, mode="train", seed=201, x_shape=(2, 8, 4), x_scale=1.5,
             decode="codes_from_indices")
    run_case(module=M, name="levels_865_proj_train", case="levels [8,6,5], dim=12: project_in/out with bias, grads of projections",
             config={"levels": [8, 6, 5], "dim": 12}, mode="train", seed=202, x_shape=(2, 8, 12), x_scale=2.0,
             decode="codes_from_indices")
    run_case(module=M, name="levels_865_proj_nobias_eval", case="levels [8,6,5], dim=12, projection_has_bias=False",
             config={"levels": [8, 6, 5], "dim": 12, "projection_has_bias": False}, mode="eval", seed=203,
             x_shape=(2, 8, 12), x_scale=2.0, decode="codes_from_indices")
    run_case(module=M, name="num_codebooks2_train", case="levels [8,5,5,5], num_codebooks=2, dim=8 (no projection), indices (b, n, 2)",
             config={"levels": [8, 5, 5, 5], "num_codebooks": 2, "dim": 8}, mode="train", seed=204,
             x_shape=(2, 8, 8), x_scale=1.5, decode="codes_from_indices")
    run_case(module=M, name="num_codebooks2_proj_train", case="levels [8,6,5], num_codebooks=2, dim=16 (projection 16->6)",
             config={"levels": [8, 6, 5], "num_codebooks": 2, "dim": 16}, mode="train", seed=205,
             x_shape=(2, 8, 16), x_scale=2.0, decode="codes_from_indices")
    run_case(module=M, name="preserve_symmetry_train", case="preserve_symmetry=True, levels [8,5,4,2] (level 2 allowed), floor-based symmetric bound",
             config={"levels": [8, 5, 4, 2], "preserve_symmetry": True}, mode="train", seed=206,
             x_shape=(2, 8, 4), x_scale=1.5, decode="codes_from_indices")
    run_case(module=M, name="hard_clamp_train", case="bound_hard_clamp=True (clamp instead of tanh), levels [8,5,5,5]",
             config={"levels": [8, 5, 5, 5], "bound_hard_clamp": True}, mode="train", seed=207,
             x_shape=(2, 8, 4), x_scale=1.0, decode="codes_from_indices")
    run_case(module=M, name="hard_clamp_symmetric_train", case="bound_hard_clamp=True with preserve_symmetry, levels [7,5,4]",
             config={"levels": [7, 5, 4], "bound_hard_clamp": True, "preserve_symmetry": True}, mode="train",
             seed=208, x_shape=(2, 8, 3), x_scale=1.0, decode="codes_from_indices")
    run_case(module=M, name="channel_first_train", case="channel_first=True, x=(b, D, n), dim=12 with projections",
             config={"levels": [8, 6, 5], "dim": 12, "channel_first": True}, mode="train", seed=209,
             x_shape=(2, 12, 8), x_scale=2.0, decode="codes_from_indices")
    run_case(module=M, name="image_train", case="image x=(b, D, H, W) (ndim >= 4 moves channels last), levels [8,5,5,5]",
             config={"levels": [8, 5, 5, 5]}, mode="train", seed=210, x_shape=(2, 4, 3, 3), x_scale=1.5,
             decode="codes_from_indices")
    run_case(module=M, name="orthogonal_rotation_train", case="orthogonal_rotation=True, levels [5,5,5] (rotation matrix in state_in.orthogonal_rot)",
             config={"levels": [5, 5, 5], "orthogonal_rotation": True}, mode="train", seed=211,
             x_shape=(2, 8, 3), x_scale=1.5, decode="codes_from_indices")
