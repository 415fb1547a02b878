"""Golden fixtures for LFQ (tests/fixtures/LFQ/).

frac_per_sample_entropy stays 1 (a fraction < 1 draws a random token subset).
"""

import torch

from quantizer_case import lens_mask, run_case

M = "LFQ"
BD = {"return_loss_breakdown": True}


def generate():
    run_case(module=M, name="default_eval", case="codebook_size=256, dim=8 (no projection), eval: losses 0, decode",
             config={"codebook_size": 256, "dim": 8}, mode="eval", seed=300, x_shape=(2, 8, 8),
             call=BD, decode="codes_from_indices")
    run_case(module=M, name="default_train", case="codebook_size=256, dim=8, train: entropy aux loss (inv_temperature 100) + breakdown",
             config={"codebook_size": 256, "dim": 8, "frac_per_sample_entropy": 1.0}, mode="train", seed=301,
             x_shape=(2, 8, 8), call=BD, decode="codes_from_indices")
    run_case(module=M, name="inv_temperature1_train", case="inv_temperature=1.0 per call (soft probabilities), commitment_loss_weight=0.25",
             config={"codebook_size": 256, "dim": 8, "commitment_loss_weight": 0.25}, mode="train", seed=302,
             x_shape=(2, 8, 8), call={"return_loss_breakdown": True, "inv_temperature": 1.0})
    run_case(module=M, name="proj_train", case="dim=16, codebook_size=256: projections 16->8->16, commitment 0.25, diversity_gamma 2.5, entropy weight 0.2",
             config={"codebook_size": 256, "dim": 16, "commitment_loss_weight": 0.25, "diversity_gamma": 2.5,
                     "entropy_loss_weight": 0.2},
             mode="train", seed=303, x_shape=(2, 8, 16), call={"return_loss_breakdown": True, "inv_temperature": 2.0},
             decode="codes_from_indices")
    run_case(module=M, name="spherical_train", case="spherical=True (BSQ): l2norm inputs and codes, codebook_scale 1",
             config={"codebook_size": 256, "dim": 8, "spherical": True, "commitment_loss_weight": 0.25}, mode="train",
             seed=304, x_shape=(2, 8, 8), call={"return_loss_breakdown": True, "inv_temperature": 10.0},
             decode="codes_from_indices")
    run_case(module=M, name="spherical_eval", case="spherical=True, eval", config={"codebook_size": 256, "dim": 8, "spherical": True},
             mode="eval", seed=305, x_shape=(2, 8, 8), decode="codes_from_indices")
    run_case(module=M, name="num_codebooks2_train", case="num_codebooks=2, codebook_size=16 (4 bits each), dim=8: indices (b, n, 2)",
             config={"codebook_size": 16, "num_codebooks": 2, "dim": 8, "commitment_loss_weight": 0.25}, mode="train",
             seed=306, x_shape=(2, 8, 8), call={"return_loss_breakdown": True, "inv_temperature": 5.0},
             decode="codes_from_indices")
    run_case(module=M, name="codebook_scale_train", case="codebook_scale=0.5, soft_clamp_input_value=1.5",
             config={"codebook_size": 64, "dim": 6, "codebook_scale": 0.5, "soft_clamp_input_value": 1.5,
                     "commitment_loss_weight": 0.5},
             mode="train", seed=307, x_shape=(2, 8, 6), call={"return_loss_breakdown": True, "inv_temperature": 3.0},
             decode="codes_from_indices")
    run_case(module=M, name="softplus_train", case="experimental_softplus_entropy_loss=True, entropy_loss_offset=1.0",
             config={"codebook_size": 64, "dim": 6, "experimental_softplus_entropy_loss": True,
                     "entropy_loss_offset": 1.0},
             mode="train", seed=308, x_shape=(2, 8, 6), call={"return_loss_breakdown": True, "inv_temperature": 3.0})
    run_case(module=M, name="image_train", case="image x=(b, D, H, W) (channel_first auto), codebook_size=64, dim=6",
             config={"codebook_size": 64, "dim": 6, "commitment_loss_weight": 0.25}, mode="train", seed=309,
             x_shape=(2, 6, 3, 3), call={"return_loss_breakdown": True, "inv_temperature": 3.0},
             decode="codes_from_indices")
    run_case(module=M, name="mask_sample_train", case="per-sample mask (b,) selects whole samples for entropy and commitment",
             config={"codebook_size": 64, "dim": 6, "commitment_loss_weight": 0.25}, mode="train", seed=310,
             x_shape=(3, 8, 6), mask=lambda shape: torch.tensor([True, False, True]),
             call={"return_loss_breakdown": True, "inv_temperature": 3.0})
    run_case(module=M, name="mask_token_train", case="per-token mask (b, n): reference quirk, batch entropy averages over the codebook axis only",
             config={"codebook_size": 64, "dim": 6, "commitment_loss_weight": 0.25}, mode="train", seed=311,
             x_shape=(2, 8, 6), mask=lens_mask([8, 5]),
             call={"return_loss_breakdown": True, "inv_temperature": 3.0},
             note="SPEC 10.2 mask quirk: with a (b, n) mask the reference's batch entropy equals the per-sample entropy")
