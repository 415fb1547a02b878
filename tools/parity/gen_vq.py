"""Golden fixtures for VectorQuantize (tests/fixtures/VectorQuantize/).

Every case starts from a given codebook state (initted, random well-separated
codes, random cluster sizes), so no k-means or dead-code sampling runs and the
result does not depend on torch's random stream.
"""

from quantizer_case import lens_mask, lens_tensor, run_case, vq_state

M = "VectorQuantize"
B, N, D, K = 2, 8, 16, 32
SEQ = (B, N, D)


def base(**kw):
    cfg = {"dim": D, "codebook_size": K}
    cfg.update(kw)
    return cfg


def generate():
    p = vq_state()

    # --- default config
    run_case(module=M, name="default_eval", case="default config, eval forward, decode round trip",
             config=base(), mode="eval", seed=100, x_shape=SEQ, prepare=p,
             backward=False, decode="output_from_indices")
    run_case(module=M, name="default_train", case="default config, training step: rotation trick, commitment loss, EMA update",
             config=base(), mode="train", seed=101, x_shape=SEQ, prepare=p)
    run_case(module=M, name="default_train_breakdown", case="default config, training step with return_loss_breakdown",
             config=base(decay=0.9, commitment_weight=0.25), mode="train", seed=102, x_shape=SEQ, prepare=p,
             call={"return_loss_breakdown": True})
    run_case(module=M, name="freeze_codebook_train", case="training forward with freeze_codebook=True: no EMA update",
             config=base(), mode="train", seed=103, x_shape=SEQ, prepare=p,
             call={"freeze_codebook": True, "return_loss_breakdown": True})
    run_case(module=M, name="ema_update_weight_train", case="training step with ema_update_weight=0.5",
             config=base(), mode="train", seed=104, x_shape=SEQ, prepare=p,
             call={"ema_update_weight": 0.5})

    # --- cosine similarity
    run_case(module=M, name="cosine_eval", case="use_cosine_sim, eval",
             config=base(use_cosine_sim=True), mode="eval", seed=110, x_shape=SEQ, prepare=p,
             backward=False, decode="output_from_indices")
    run_case(module=M, name="cosine_train", case="use_cosine_sim, training step (l2norm inputs, EMA then l2norm codes)",
             config=base(use_cosine_sim=True), mode="train", seed=111, x_shape=SEQ, prepare=p,
             call={"return_loss_breakdown": True})

    # --- projections
    run_case(module=M, name="codebook_dim_eval", case="codebook_dim=8 != dim=16: project_in/project_out, eval with backward",
             config=base(codebook_dim=8), mode="eval", seed=120, x_shape=SEQ, prepare=p,
             decode="output_from_indices")
    run_case(module=M, name="codebook_dim_train", case="codebook_dim=8 != dim=16: projections, training step",
             config=base(codebook_dim=8), mode="train", seed=121, x_shape=SEQ, prepare=p,
             call={"return_loss_breakdown": True})
    run_case(module=M, name="layernorm_after_project_in_train", case="codebook_dim=8 with layernorm_after_project_in, training step",
             config=base(codebook_dim=8, layernorm_after_project_in=True), mode="train", seed=122,
             x_shape=SEQ, prepare=p)

    # --- heads
    for sep in (False, True):
        tag = "separate" if sep else "shared"
        run_case(module=M, name=f"heads2_{tag}_eval", case=f"heads=2, codebook_dim=8, {tag} codebook, eval",
                 config=base(codebook_dim=8, heads=2, separate_codebook_per_head=sep), mode="eval",
                 seed=130 + 2 * sep, x_shape=SEQ, prepare=p, backward=False,
                 # shared multi-head get_output_from_indices returns (b, n, h, d) unmerged
                 # (SPEC 3.7 quirk), so the decode is only recorded for separate codebooks
                 decode="output_from_indices" if sep else None)
        run_case(module=M, name=f"heads2_{tag}_train", case=f"heads=2, codebook_dim=8, {tag} codebook, training step",
                 config=base(codebook_dim=8, heads=2, separate_codebook_per_head=sep), mode="train",
                 seed=131 + 2 * sep, x_shape=SEQ, prepare=p, call={"return_loss_breakdown": True})
    run_case(module=M, name="heads2_separate_proj_train", case="heads=2, codebook_dim=4 (projection 16->8), separate codebooks, training step",
             config=base(codebook_dim=4, heads=2, separate_codebook_per_head=True), mode="train",
             seed=135, x_shape=SEQ, prepare=p)

    # --- estimators
    run_case(module=M, name="straight_through_train", case="rotation_trick=False: plain straight-through estimator",
             config=base(rotation_trick=False), mode="train", seed=140, x_shape=SEQ, prepare=p)
    run_case(module=M, name="learnable_no_ema_train", case="learnable_codebook=True, ema_update=False, STE: commitment loss trains the codebook (grad._codebook.embed)",
             config=base(learnable_codebook=True, ema_update=False, rotation_trick=False), mode="train",
             seed=141, x_shape=SEQ, prepare=p, call={"return_loss_breakdown": True})
    run_case(module=M, name="learnable_rotation_train", case="learnable_codebook=True, ema_update=False, rotation trick",
             config=base(learnable_codebook=True, ema_update=False), mode="train",
             seed=142, x_shape=SEQ, prepare=p)
    run_case(module=M, name="sync_update_v_train", case="learnable codebook, STE, sync_update_v=0.5 (gradient x1.5)",
             config=base(learnable_codebook=True, ema_update=False, rotation_trick=False, sync_update_v=0.5),
             mode="train", seed=143, x_shape=SEQ, prepare=p)

    # --- masks
    run_case(module=M, name="mask_train", case="commitment_weight=0.5 with mask (b, n): masked MSE vs original input, zeros and -1 at padding, masked EMA",
             config=base(commitment_weight=0.5), mode="train", seed=150, x_shape=SEQ, prepare=p,
             mask=lens_mask([8, 5]), call={"return_loss_breakdown": True})
    run_case(module=M, name="lens_train", case="lens=(b,) instead of mask",
             config=base(commitment_weight=0.5), mode="train", seed=151, x_shape=SEQ, prepare=p,
             lens=lens_tensor([6, 3]))
    run_case(module=M, name="mask_eval", case="mask in eval: zeros and -1 at padding",
             config=base(), mode="eval", seed=152, x_shape=SEQ, prepare=p, backward=False,
             mask=lens_mask([7, 4]))
    run_case(module=M, name="mask_keep_input_train", case="mask with return_zeros_for_masked_padding=False: padding returns the input",
             config=base(return_zeros_for_masked_padding=False), mode="train", seed=153, x_shape=SEQ,
             prepare=p, mask=lens_mask([8, 2]))

    # --- dead codes: threshold on, but every code alive (no random refill)
    run_case(module=M, name="dead_code_threshold_alive_train",
             case="threshold_ema_dead_code=2 with all cluster sizes >= 3 after the EMA: expiry runs but replaces nothing",
             config=base(threshold_ema_dead_code=2), mode="train", seed=160, x_shape=SEQ,
             prepare=vq_state(cluster_lo=4.0, cluster_hi=6.0))

    # --- layouts
    run_case(module=M, name="image_fmap_eval", case="accept_image_fmap, x=(b, D, H, W), eval",
             config=base(accept_image_fmap=True), mode="eval", seed=170, x_shape=(2, D, 4, 4),
             prepare=p, backward=False, decode="output_from_indices")
    run_case(module=M, name="image_fmap_train", case="accept_image_fmap, x=(b, D, H, W), training step",
             config=base(accept_image_fmap=True), mode="train", seed=171, x_shape=(2, D, 4, 4), prepare=p)
    run_case(module=M, name="fmap_3d_train", case="accept_3d_fmap, x=(b, D, T, H, W), training step",
             config=base(accept_3d_fmap=True), mode="train", seed=172, x_shape=(2, D, 2, 2, 2), prepare=p)
    run_case(module=M, name="channel_first_train", case="channel_last=False, x=(b, D, n), training step",
             config=base(channel_last=False), mode="train", seed=173, x_shape=(B, D, N), prepare=p)
    run_case(module=M, name="single_token_train", case="x=(b, D) single token, training step",
             config=base(), mode="train", seed=174, x_shape=(4, D), prepare=p)

    # --- auxiliary losses
    run_case(module=M, name="orthogonal_reg_train", case="orthogonal_reg_weight=10 (codebook becomes a parameter, grad._codebook.embed from the orthogonal loss)",
             config=base(orthogonal_reg_weight=10.0), mode="train", seed=180, x_shape=SEQ, prepare=p,
             call={"return_loss_breakdown": True})
    run_case(module=M, name="orthogonal_reg_active_train", case="orthogonal_reg_weight=10 with orthogonal_reg_active_codes_only",
             config=base(orthogonal_reg_weight=10.0, orthogonal_reg_active_codes_only=True), mode="train",
             seed=181, x_shape=SEQ, prepare=p, call={"return_loss_breakdown": True})
    run_case(module=M, name="diversity_train", case="codebook_diversity_loss_weight=1, codebook_diversity_temperature=1",
             config=base(codebook_diversity_loss_weight=1.0, codebook_diversity_temperature=1.0), mode="train",
             seed=182, x_shape=SEQ, prepare=p, call={"return_loss_breakdown": True})
    run_case(module=M, name="diversity_heads_train", case="diversity loss with heads=2 shared codebook (average over (h, b) per position)",
             config=base(codebook_dim=8, heads=2, codebook_diversity_loss_weight=0.5,
                         codebook_diversity_temperature=2.0),
             mode="train", seed=183, x_shape=SEQ, prepare=p, call={"return_loss_breakdown": True})
    run_case(module=M, name="commit_ce_train", case="commitment_use_cross_entropy_loss=True",
             config=base(commitment_use_cross_entropy_loss=True), mode="train", seed=184, x_shape=SEQ,
             prepare=p, call={"return_loss_breakdown": True})
    run_case(module=M, name="commit_ce_mask_train", case="cross-entropy commitment with mask (masked targets -1, ignored)",
             config=base(commitment_use_cross_entropy_loss=True), mode="train", seed=185, x_shape=SEQ,
             prepare=p, mask=lens_mask([8, 3]), call={"return_loss_breakdown": True})
    run_case(module=M, name="affine_param_train", case="affine_param=True: first training forward initializes batch/codebook statistics (state gains batch_mean/batch_variance)",
             config=base(affine_param=True), mode="train", seed=186, x_shape=SEQ, prepare=p)

    # --- top-k
    run_case(module=M, name="topk2_train", case="topk=2 in training: q (b, n, k, d), per-candidate loss (b, n, k), no statistics update",
             config=base(), mode="train", seed=190, x_shape=SEQ, prepare=p, call={"topk": 2})
    run_case(module=M, name="topk3_eval", case="topk=3 in eval: gathers k codes, loss is the per-candidate commitment (b, n, k) even in eval",
             config=base(commitment_weight=0.5), mode="eval", seed=191, x_shape=SEQ, prepare=p, backward=False,
             call={"topk": 3},
             note="SPEC 2.3/3.8 say eval top-k is broken; in 1.32.0 it works and returns a (b, n, k) loss in eval")

    import gen_vq_callables

    gen_vq_callables.generate()
