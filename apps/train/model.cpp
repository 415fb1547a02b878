// The examples' autoencoders (see model.h): options, layers and forward.
#include "apps/train/model.h"

#include "apps/train/upsample_conv.h"

#include "autograd/functions.h"
#include "core/error.h"
#include "nn/nn.h"

namespace vq::app {

namespace {

// A Module whose children are registered from outside: the examples' utils.Sequential
// container ("fns"), holding layers and the quantizer under "0", "1", ...
class ModuleList : public nn::Module {
 public:
  void add(std::shared_ptr<nn::Module> m) {
    register_module(std::to_string(size_++), std::move(m));
  }

 private:
  int size_ = 0;
};

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

}  // namespace

QuantizerKind parse_quantizer_kind(const std::string& s) {
  if (s == "vq") return QuantizerKind::vq;
  if (s == "fsq") return QuantizerKind::fsq;
  if (s == "lfq") return QuantizerKind::lfq;
  throw ConfigError("unknown quantizer '" + s + "' (choose vq, fsq or lfq)");
}

const char* quantizer_kind_name(QuantizerKind k) {
  switch (k) {
    case QuantizerKind::vq: return "vq";
    case QuantizerKind::fsq: return "fsq";
    case QuantizerKind::lfq: return "lfq";
  }
  return "?";
}

void ModelOptions::validate() const {
  if (quantizer == QuantizerKind::fsq) {
    check<ConfigError>(!levels.empty() && levels.size() <= 16,
                       "levels: give 1 to 16 comma-separated levels, e.g. 8,6,5");
    int64_t k = 1;
    for (int64_t l : levels) {
      check<ConfigError>(l >= 2 && l <= 65536, "levels: each level must be in [2, 65536], got ", l);
      k *= l;
      check<ConfigError>(k <= 65536, "levels: the product of the levels (the number of codes) ",
                         "must be at most 65536");
    }
    return;
  }
  check<ConfigError>(codebook_size >= 2 && codebook_size <= 65536,
                     "codebook-size must be in [2, 65536], got ", codebook_size);
  if (quantizer == QuantizerKind::lfq)
    check<ConfigError>(is_power_of_two(codebook_size),
                       "codebook-size must be a power of 2 for lfq (e.g. 256), got ", codebook_size);
}

std::string ModelOptions::quantizer_module() const {
  switch (quantizer) {
    case QuantizerKind::vq: return "VectorQuantize";
    case QuantizerKind::fsq: return "FSQ";
    case QuantizerKind::lfq: return "LFQ";
  }
  return "";
}

int64_t ModelOptions::latent_dim() const {
  switch (quantizer) {
    case QuantizerKind::vq: return 32;
    case QuantizerKind::fsq: return static_cast<int64_t>(levels.size());
    case QuantizerKind::lfq: {
      int64_t d = 0;
      while ((int64_t{1} << d) < codebook_size) ++d;
      return d;
    }
  }
  return 0;
}

nlohmann::json ModelOptions::quantizer_config() const {
  switch (quantizer) {
    case QuantizerKind::vq:  // autoencoder.py
      return {{"dim", 32},
              {"codebook_size", codebook_size},
              {"accept_image_fmap", true},
              {"rotation_trick", rotation_trick},
              {"straight_through", !rotation_trick}};
    case QuantizerKind::fsq:  // autoencoder_fsq.py
      return {{"levels", levels}};
    case QuantizerKind::lfq:  // autoencoder_lfq.py
      return {{"dim", latent_dim()},
              {"codebook_size", codebook_size},
              {"entropy_loss_weight", 0.02},
              {"diversity_gamma", 1.0},
              {"spherical", true}};
  }
  return {};
}

int64_t ModelOptions::num_codes() const {
  if (quantizer != QuantizerKind::fsq) return codebook_size;
  int64_t k = 1;
  for (int64_t l : levels) k *= l;
  return k;
}

double ModelOptions::aux_weight() const {
  switch (quantizer) {
    case QuantizerKind::vq: return 10.0;
    case QuantizerKind::fsq: return 0.0;
    case QuantizerKind::lfq: return 1.0;
  }
  return 0.0;
}

nlohmann::json ModelOptions::to_json() const {
  return {{"quantizer", quantizer_kind_name(quantizer)},
          {"codebook_size", codebook_size},
          {"levels", levels},
          {"rotation_trick", rotation_trick}};
}

ModelOptions ModelOptions::from_json(const nlohmann::json& j) {
  ModelOptions o;
  try {
    o.quantizer = parse_quantizer_kind(j.at("quantizer").get<std::string>());
    o.codebook_size = j.at("codebook_size").get<int64_t>();
    o.levels = j.at("levels").get<std::vector<int64_t>>();
    o.rotation_trick = j.at("rotation_trick").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(std::string("model options: ") + e.what());
  }
  o.validate();
  return o;
}

AutoEncoder::AutoEncoder(const ModelOptions& opts, Generator& gen) : opts_(opts) {
  opts_.validate();
  using nn::Conv2d;
  const int64_t d = opts_.latent_dim();
  auto fns = std::make_shared<ModuleList>();
  // Encoder: Conv3x3(1->16) -> MaxPool2 -> GELU -> Conv3x3(16->32) -> MaxPool2 (7x7 map).
  encoder_ = {std::make_shared<Conv2d>(1, 16, 3, 1, 1, true, gen), std::make_shared<nn::MaxPool2d>(2, 2),
              std::make_shared<nn::GELU>(), std::make_shared<Conv2d>(16, 32, 3, 1, 1, true, gen),
              std::make_shared<nn::MaxPool2d>(2, 2)};
  if (opts_.quantizer == QuantizerKind::lfq)  // GroupNorm(4, 32, affine=False)
    encoder_.push_back(std::make_shared<nn::GroupNorm>(4, 32, 1e-5, false));
  if (opts_.quantizer != QuantizerKind::vq)   // Conv1x1(32 -> d)
    encoder_.push_back(std::make_shared<Conv2d>(32, d, 1, 1, 0, true, gen));
  for (auto& l : encoder_) fns->add(l);

  quantizer_ = make_quantizer(opts_.quantizer_module(), opts_.quantizer_config());
  fns->add(quantizer_);

  // Decoder: [Conv3x3(d->32)] -> Upsample2 -> Conv3x3(32->16) -> GELU -> Upsample2 -> Conv3x3(16->1).
  if (opts_.quantizer != QuantizerKind::vq)
    decoder_.push_back(std::make_shared<Conv2d>(d, 32, 3, 1, 1, true, gen));
  decoder_.push_back(std::make_shared<nn::Upsample>(2));
  decoder_.push_back(std::make_shared<Conv2d>(32, 16, 3, 1, 1, true, gen));
  decoder_.push_back(std::make_shared<nn::GELU>());
  decoder_.push_back(std::make_shared<nn::Upsample>(2));
  decoder_.push_back(std::make_shared<Conv2d>(16, 1, 3, 1, 1, true, gen));
  for (auto& l : decoder_) fns->add(l);
  register_module("fns", fns);
}

Variable AutoEncoder::encode(const Variable& x) {
  check<ShapeError>(x.dim() == 4 && x.size(1) == 1 && x.size(2) == 28 && x.size(3) == 28,
                    "AutoEncoder: input must be [B, 1, 28, 28], got ", x.value().str());
  Variable h = x;
  for (auto& l : encoder_) h = l->forward(h);
  return h;
}

Variable AutoEncoder::decode(const Variable& z) {
  Variable h = z;
  for (size_t i = 0; i < decoder_.size(); ++i) {
    // The decoder's Upsample layers are x2 nearest and its convolutions 3x3 / padding 1.
    auto* conv = i + 1 < decoder_.size() ? dynamic_cast<nn::Conv2d*>(decoder_[i + 1].get()) : nullptr;
    if (fuse_upsample_ && dynamic_cast<nn::Upsample*>(decoder_[i].get()) && conv) {
      h = upsample2x_conv3x3(h, conv->weight(), conv->bias());
      ++i;
      continue;
    }
    h = decoder_[i]->forward(h);
  }
  return h;
}

AutoEncoder::Output AutoEncoder::forward(const Variable& x) {
  QuantizerCall call;
  call.x = encode(x);
  QuantizerOutput q = quantizer_->call(call);
  Output out;
  out.indices = q.indices;
  out.aux_loss = q.loss.defined() ? q.loss : Variable(Tensor::zeros({}, DType::f32, x.device()));
  out.reconstruction = ag::clamp(decode(q.quantized), -1.0, 1.0);
  return out;
}

TrainingLoss training_loss(AutoEncoder& model, const Variable& x) {
  TrainingLoss l;
  l.output = model.forward(x);
  l.rec = ag::mean(ag::abs(l.output.reconstruction - x));
  const double w = model.options().aux_weight();
  l.total = w != 0.0 ? l.rec + ag::mul(l.output.aux_loss, w) : l.rec;
  return l;
}

Tensor AutoEncoder::encode_indices(const Variable& x) {
  QuantizerCall call;
  call.x = encode(x);
  return quantizer_->call(call).indices;
}

}  // namespace vq::app
