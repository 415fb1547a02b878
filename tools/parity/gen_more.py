"""Golden fixtures for FSP, BinaryMapper and HierarchicalVQ
(tests/fixtures/{FSP,BinaryMapper,HierarchicalVQ}/).

FSP's only state is its optional projections. Its training path perturbs with
torch's random stream unless quantize_rate = 1.0, so training cases use
quantize_rate = 1.0 (the default 0.0 is covered by statistics in C++); eval
always quantizes. `loss` is the VectorNorm loss (computed in eval too; the
backward goes through it only in training, like every generator here).

BinaryMapper samples Bernoulli bits unless deterministic: every case is
deterministic (the `deterministic` call argument, or deterministic_on_eval in
eval), and passes return_indices=True so the output is (one_hot, indices, aux).

HierarchicalVQ: the VectorQuantize codebooks are put in a given state
(vq_state: initted, so no k-means) and threshold_ema_dead_code=0 (no random
refill); no nested dropout (Python's random). `indices` is the per-level index
tuple flattened and concatenated, (b, sum n_i); no decode is stored (the
reference decodes a tuple).
"""

from contextlib import contextmanager

import torch

import tolerance
from quantizer_case import lens_tensor, run_case, vq_state


def _float64_everywhere_with_casts(orig_ctx=tolerance.float64_everywhere):
    """tolerance.py's float64 re-run makes `.float()` a no-op on float64 tensors;
    FSP.indices_to_codes and BinaryMapper also call `.float()` on integer / bool
    tensors (bin indices, the code bits), which would stay float32 and break the
    float64 matmuls. Within this group's re-runs those casts go to float64 too."""

    @contextmanager
    def ctx():
        with orig_ctx():
            patched = torch.Tensor.float
            torch.Tensor.float = lambda self, *a, **k: (self.double() if not self.is_floating_point()
                                                        else patched(self, *a, **k))
            try:
                yield
            finally:
                torch.Tensor.float = patched

    return ctx


tolerance.float64_everywhere = _float64_everywhere_with_casts()

F, B, H = "FSP", "BinaryMapper", "HierarchicalVQ"


def generate():
    base = {"levels": [8, 5, 5, 5]}
    run_case(module=F, name="default_eval", case="FSP levels [8,5,5,5] (tanh, var_tanh), eval: bin centres * sqrt(12), norm loss, decode",
             config=base, mode="eval", seed=800, x_shape=(2, 16, 4), decode="codes_from_indices")
    run_case(module=F, name="rate1_train", case="FSP quantize_rate=1.0 in training (no perturbation): STE through act, grads of the VectorNorm loss",
             config={**base, "quantize_rate": 1.0}, mode="train", seed=801, x_shape=(2, 16, 4),
             decode="codes_from_indices")
    run_case(module=F, name="proj_train", case="FSP dim=12 (project_in/out with bias), quantize_rate=1.0, grads of the projections",
             config={**base, "dim": 12, "quantize_rate": 1.0}, mode="train", seed=802, x_shape=(2, 8, 12),
             decode="codes_from_indices")
    run_case(module=F, name="proj_nobias_none_eval", case="FSP dim=12, projection_has_bias=False, vector_norm='none' (loss 0)",
             config={**base, "dim": 12, "projection_has_bias": False, "vector_norm": "none"}, mode="eval",
             seed=803, x_shape=(2, 8, 12), decode="codes_from_indices")
    run_case(module=F, name="channel_first_image_eval", case="FSP channel_first=True, image (b, dim, h, w): indices (b, h, w)",
             config={**base, "channel_first": True}, mode="eval", seed=804, x_shape=(2, 4, 3, 3),
             decode="codes_from_indices")
    run_case(module=F, name="inv_tanh_train", case="FSP need_inv_act=True (tanh): atanh of the bin centre, gradient identity to the pre-activation",
             config={**base, "need_inv_act": True, "quantize_rate": 1.0}, mode="train", seed=805,
             x_shape=(2, 16, 4), decode="codes_from_indices")
    run_case(module=F, name="sigmoid_var_sigmoid_train", case="FSP act sigmoid, vector_norm var_sigmoid, levels [7,4,3]",
             config={"levels": [7, 4, 3], "act_name": "sigmoid", "vector_norm": "var_sigmoid", "quantize_rate": 1.0},
             mode="train", seed=806, x_shape=(2, 16, 3), x_scale=1.5, decode="codes_from_indices")
    run_case(module=F, name="normal_inv_eval", case="FSP act normal (erf), need_inv_act (sqrt(2) erfinv), vector_norm kurt",
             config={"levels": [6, 5, 4], "act_name": "normal", "need_inv_act": True, "vector_norm": "kurt"},
             mode="eval", seed=807, x_shape=(2, 16, 3), decode="codes_from_indices")
    run_case(module=F, name="laplace_kurt_train", case="FSP act laplace, vector_norm kurt (skewness / kurtosis gradients)",
             config={"levels": [8, 5, 5], "act_name": "laplace", "vector_norm": "kurt", "quantize_rate": 1.0},
             mode="train", seed=808, x_shape=(2, 16, 3), decode="codes_from_indices")
    run_case(module=F, name="cauchy_inv_var_laplace_train", case="FSP act cauchy (atan), need_inv_act (tan), vector_norm var_laplace",
             config={"levels": [5, 5, 4], "act_name": "cauchy", "need_inv_act": True, "vector_norm": "var_laplace",
                     "quantize_rate": 1.0},
             mode="train", seed=809, x_shape=(2, 16, 3), decode="codes_from_indices")
    run_case(module=F, name="vector_norm_var_train", case="FSP vector_norm var, dim=6 with projections, video (b, dim, t, h, w) channel_first",
             config={"levels": [4, 4, 3], "dim": 6, "vector_norm": "var", "channel_first": True, "quantize_rate": 1.0},
             mode="train", seed=810, x_shape=(1, 6, 2, 3, 3), decode="codes_from_indices")

    det = {"deterministic": True, "return_indices": True}
    run_case(module=B, name="bits3_det_train", case="BinaryMapper bits=3, training, deterministic: one-hot + G - sg(G) (straight-through), aux KL loss",
             config={"bits": 3}, mode="train", seed=820, x_shape=(2, 4, 3), x_scale=2.0, call=det)
    run_case(module=B, name="bits4_eval_det_on_eval", case="BinaryMapper bits=4, deterministic_on_eval, eval: plain one-hot, loss 0 (no aux)",
             config={"bits": 4, "deterministic_on_eval": True}, mode="eval", seed=821, x_shape=(2, 5, 4),
             x_scale=2.0, call={"return_indices": True})
    run_case(module=B, name="temperature_unreduced_train", case="BinaryMapper bits=3, temperature 0.5 (sampling only), reduce_aux_kl_loss=False: aux (b, n)",
             config={"bits": 3, "kl_loss_threshold": 0.1}, mode="train", seed=822, x_shape=(2, 4, 3), x_scale=2.0,
             call={**det, "temperature": 0.5, "reduce_aux_kl_loss": False})
    run_case(module=B, name="no_straight_through_train", case="BinaryMapper bits=2, straight_through=False: one-hot has no gradient, aux only",
             config={"bits": 2, "kl_loss_threshold": 0.2}, mode="train", seed=823, x_shape=(3, 2, 2), x_scale=2.0,
             call={**det, "straight_through": False})
    run_case(module=B, name="bits5_single_lead_train", case="BinaryMapper bits=5, logits (n, bits) (one leading axis), calc_aux_loss=False",
             config={"bits": 5}, mode="train", seed=824, x_shape=(6, 5), x_scale=2.0,
             call={**det, "calc_aux_loss": False})

    img = {"dim": 8, "codebook_size": 16, "scales": [1, 2, 4], "accept_image_fmap": True,
           "threshold_ema_dead_code": 0}
    run_case(module=H, name="image_eval", case="HierarchicalVQ image, scales (1,2,4) on 4x4: pooling, VQ, bilinear upsampling, shared phi",
             config=img, mode="eval", seed=830, x_shape=(2, 8, 4, 4), prepare=vq_state())
    run_case(module=H, name="image_odd_scales_train", case="HierarchicalVQ image scales (1,2,3,5) on 5x5 (uneven pooling windows, fractional bilinear), EMA update",
             config={**img, "scales": [1, 2, 3, 5]}, mode="train", seed=831, x_shape=(2, 8, 5, 5), prepare=vq_state())
    run_case(module=H, name="seq_channel_last_per_level_phi_train", case="HierarchicalVQ 1-D, channel_first=False (b, n, dim), share_quant_resi=0 (one phi per level), linear interpolation",
             config={"dim": 8, "codebook_size": 16, "scales": [1, 3, 6], "channel_first": False, "share_quant_resi": 0,
                     "threshold_ema_dead_code": 0},
             mode="train", seed=832, x_shape=(2, 6, 8), prepare=vq_state())
    run_case(module=H, name="separate_codebooks_train", case="HierarchicalVQ shared_codebook=False, codebook_size [8,16,16], share_quant_resi=2 (phi by rounded position), commitment_weight 0.5",
             config={**img, "shared_codebook": False, "codebook_size": [8, 16, 16], "share_quant_resi": 2,
                     "commitment_weight": 0.5},
             mode="train", seed=833, x_shape=(2, 8, 4, 4), prepare=vq_state())
    run_case(module=H, name="lens_train", case="HierarchicalVQ 1-D with lens (masked pooling, global masked mean at scale 1, masked output zeros)",
             config={"dim": 8, "codebook_size": 16, "scales": [1, 2, 4, 8], "threshold_ema_dead_code": 0},
             mode="train", seed=834, x_shape=(2, 8, 8), lens=lens_tensor([8, 5]), prepare=vq_state())
    run_case(module=H, name="video_3d_train", case="HierarchicalVQ accept_3d_fmap, scales (1, 2, [2,3,3]) on (2,3,3): adaptive pool 3-D, trilinear, conv3d phi",
             config={"dim": 4, "codebook_size": 16, "scales": [1, 2, [2, 3, 3]], "accept_3d_fmap": True,
                     "threshold_ema_dead_code": 0},
             mode="train", seed=835, x_shape=(1, 4, 2, 3, 3), prepare=vq_state())
    run_case(module=H, name="identity_phi_eval", case="HierarchicalVQ quant_resi=0 (phi is the identity), image scales (1,[1,2],[3,3]) non-square",
             config={**img, "scales": [1, [1, 2], [3, 3]], "quant_resi": 0.0}, mode="eval", seed=836,
             x_shape=(2, 8, 3, 3), prepare=vq_state())
