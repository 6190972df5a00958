// Chapter 06, part 4: text prompts through cross-attention (text_prompts.hpp).
//
//   captions    each training image's class word and, each with probability --p-word, its brightness and its
//               size word, measured from the image and split at its class's median (your 06.13); the
//               --held-out pairs are never written together
//   train       Ho & Salimans' Algorithm 1 (your 06.4 and 06.1 inside chapter 03's train_step, 03.6) with
//               the caption as the "label": dropping it means the empty prompt; the text encoder and the
//               U-Net's cross-attention (both through your 06.12) learn together from chapter 03's model
//   evaluate    40 prompts "a <size> <brightness> <class>" at each --text-w: guided by your 06.3 against the
//               empty prompt in your DDIM (05.3); the evaluation classifier judges the class, the image's own
//               brightness and size against the class's medians judge the words; held-out pairs apart
// Writes (in runs/06_guidance/)
//   text_model.dmt, text_ckpt.pt   the EMA weights (with the vocabulary, the medians, the held-out pairs)
//   text_loss.png                  the training loss
//   text_grid.png                  rows: classes; columns: the four attribute prompts at each w
//   text_accuracy.png              class and attribute accuracy against w, seen and held-out pairs
//   text_attention.png             --attention-prompt: x0_hat and each token's cross-attention map across
//                                  the reverse process
//   text_prompts.png, text_video.mp4   the --prompt prompts (or two defaults), the video with the prompt on it
#include "text_prompts.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>

#include "03_ddpm/algorithms.hpp"
#include "03_ddpm/ddpm.hpp"
#include "05_ddim/ddim.hpp"
#include "06_guidance/guidance.hpp"
#include "06_guidance/text.hpp"
#include "dm/data/captions.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/errors.hpp"
#include "dm/image.hpp"
#include "dm/io/reference.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/oom.hpp"
#include "dm/nn/unet.hpp"
#include "dm/plot.hpp"
#include "dm/runtime.hpp"
#include "dm/train/loop.hpp"
#include "dm/video.hpp"
#include "program.hpp"

namespace ch06 {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A (class, attribute) pair: attribute 0 brightness, 1 size; value 0 the first word ("dark", "small").
struct Pair {
  std::int64_t label = 0;
  int attribute = 0, value = 0;
  bool operator<(const Pair& o) const {
    return std::tie(label, attribute, value) < std::tie(o.label, o.attribute, o.value);
  }
};

Pair parse_pair(const std::string& text) {
  const auto words = dm::Vocabulary::split(text);
  auto fail = [&] {
    std::vector<std::string> classes(dm::fashion_mnist_class_words().begin(), dm::fashion_mnist_class_words().end());
    throw dm::UsageError(
        fmt::format("--held-out \"{}\": a pair is an attribute word (dark, light, small, large) and a class ({})", text,
                    fmt::join(classes, ", ")));
  };
  if (words.size() < 2) fail();
  Pair p;
  bool found = false;
  for (int v = 0; v < 2; ++v) {
    if (words[0] == dm::kBrightnessWords[std::size_t(v)]) p = {0, 0, v}, found = true;
    if (words[0] == dm::kSizeWords[std::size_t(v)]) p = {0, 1, v}, found = true;
  }
  std::string rest;
  for (std::size_t i = 1; i < words.size(); ++i) rest += (i > 1 ? " " : "") + words[i];
  std::int64_t label = -1;
  for (std::size_t c = 0; c < dm::fashion_mnist_class_words().size(); ++c)
    if (rest == dm::fashion_mnist_class_words()[c]) label = std::int64_t(c);
  if (!found || label < 0) fail();
  p.label = label;
  return p;
}

std::string pair_name(const Pair& p) {
  return fmt::format(
      "{} {}", p.attribute == 0 ? dm::kBrightnessWords[std::size_t(p.value)] : dm::kSizeWords[std::size_t(p.value)],
      dm::fashion_mnist_class_words()[std::size_t(p.label)]);
}

// The captions of training: index label * 9 + (brightness + 1) * 3 + (size + 1), each attribute -1 (left
// out), 0 or 1; index 90 is the empty prompt (your null_label(90)).
constexpr std::int64_t kCaptions = kClasses * 9;
std::vector<std::string> caption_table() {
  std::vector<std::string> t;
  for (std::int64_t c = 0; c < kClasses; ++c)
    for (int b = -1; b <= 1; ++b)
      for (int s = -1; s <= 1; ++s) t.push_back(dm::fashion_mnist_caption(c, b, s));
  return t;
}

// Token rows for prompts 0..K-1 and, at row K, the empty prompt.
struct PromptTable {
  dm::Tokens tokens;
  std::int64_t K = 0;
};
PromptTable prompt_table(const dm::Vocabulary& vocab, std::vector<std::string> prompts, const torch::Device& device) {
  const auto K = static_cast<std::int64_t>(prompts.size());
  prompts.push_back("");
  auto tk = vocab.encode(prompts);
  return {{tk.ids.to(device), tk.mask.to(device)}, K};
}

// The text U-Net as a CondEpsModel whose "label" is a row of the prompt table.
dm::ch06::CondEpsModel text_eps(dm::nn::UNet& model, const PromptTable& table) {
  return [&model, &table](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return model->forward_text(x, t, table.tokens.ids.index_select(0, y), table.tokens.mask.index_select(0, y));
  };
}

// ANCHOR: text_sample
// Guided sampling towards prompt rows y of the table: your guided_eps (06.3) with the empty prompt as "no
// label" (your null_label(K) is the table's last row), inside your DDIM sampler (05.3, eta = 0), x0_hat
// clipped to [-1, 1] at every step.
torch::Tensor sample_text(dm::nn::UNet& model, const PromptTable& table, const torch::Tensor& alpha_bar,
                          const torch::Tensor& x_T, const torch::Tensor& y, double w, std::int64_t steps,
                          const dm::ch05::StepCallback& on_step = nullptr) {
  const auto eps_theta = text_eps(model, table);
  dm::ch05::EpsFn eps_fn = [&](const torch::Tensor& x, const torch::Tensor& t) {
    auto eps =
        dm::ch06::guided_eps(dm::ch06::exercise_parts(), eps_theta, x, t, y, w, dm::ch06::Convention::HoSalimansW,
                             table.K);  // 06.3
    const double ab = alpha_bar[t[0].item<std::int64_t>()].item<double>();
    auto x0 = ((x - std::sqrt(1 - ab) * eps) / std::sqrt(ab)).clamp(-1, 1);
    return (x - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
  };
  dm::ch05::DdimOptions opt;
  opt.steps = steps;
  return dm::ch05::ddim_sample(dm::ch05::exercise_parts(), eps_fn, alpha_bar, x_T, opt, nullptr, on_step);
}
// ANCHOR_END: text_sample

struct TextModel {
  dm::nn::UNet model{nullptr}, ema{nullptr};
  dm::nn::UNetConfig ucfg;
  dm::ch02::Schedule s;
  nlohmann::json meta = nlohmann::json::object();  // of the file it came from
  nlohmann::json started_from = nlohmann::json::object();
};

// The text U-Net from a model file: a text model of this program, or chapter 03's unconditional one, which gains
// the text encoder and the cross-attention blocks (adding nothing yet).
TextModel text_model_from(const std::string& file, const std::string& sha, const dm::Vocabulary& vocab,
                          const torch::Device& device) {
  auto loaded = dm::nn::load_model_file(file, device, dm::ch03::sinusoidal_embedding_fn(), sha);
  if (loaded.config.num_classes > 0)
    throw dm::UserError(fmt::format(
        "--text-init {} is a class-conditional model: text prompts start from an unconditional model (chapter 03's) "
        "or a text model this part wrote",
        file));
  TextModel tm;
  tm.ucfg = loaded.config;
  if (tm.ucfg.text_vocab == 0) {
    tm.ucfg.text_vocab = vocab.size();
    tm.ucfg.text_context = vocab.context();
  } else if (loaded.meta.value("vocabulary", std::vector<std::string>{}) != vocab.words()) {
    throw dm::UserError(fmt::format("{} was trained with another vocabulary than this program's", file));
  }
  tm.model = dm::nn::UNet(tm.ucfg, dm::ch03::sinusoidal_embedding_fn());
  const auto fresh = dm::nn::copy_shared_weights(*loaded.model, *tm.model);
  tm.s = schedule_from(loaded.meta);
  tm.meta = loaded.meta;
  tm.started_from = {{"file", file}, {"step", loaded.meta.value("step", std::int64_t{0})}};
  fmt::print("text: started from {} (step {}){}\n", file, tm.started_from["step"].get<std::int64_t>(),
             fresh.empty() ? "" : ": the text encoder and the cross-attention blocks are new and add nothing yet");
  return tm;
}

// The medians of brightness and size per class on the training images (your 06.13), and each image's words.
struct Attributes {
  torch::Tensor brightness_median, size_median;  // [K]
  torch::Tensor brightness_word, size_word;      // [N] int64 in {0, 1}
};
Attributes measure(const dm::ImageDataset& data) {
  Attributes a;
  const auto b = dm::image_brightness(data.images), s = dm::image_size(data.images);
  a.brightness_median = dm::ch06::class_medians(b, data.labels, kClasses);  // 06.13
  a.size_median = dm::ch06::class_medians(s, data.labels, kClasses);        // 06.13
  a.brightness_word = (b > a.brightness_median.index_select(0, data.labels)).to(torch::kLong);
  a.size_word = (s > a.size_median.index_select(0, data.labels)).to(torch::kLong);
  return a;
}

// ANCHOR: text_train
// One minibatch's captions: the class word always, each attribute word with probability p_word unless its pair is
// held out; then Ho & Salimans' Algorithm 1 with the caption as the label (your cfg_loss, 06.4: your drop_labels,
// 06.1, turns a caption into the empty prompt with probability p_uncond), in chapter 03's train_step (03.6).
dm::train::LoopResult train_text(TextModel& tm, torch::optim::AdamW& opt, std::vector<double>& losses,
                                 std::int64_t& step0, const dm::ImageDataset& data, const Attributes& attr,
                                 const std::set<Pair>& held_out, const TextConfig& cfg, const PromptTable& captions,
                                 const torch::Device& device, const dm::train::LoopOptions& loop,
                                 const std::function<void(std::int64_t)>& save) {
  const auto images = data.images.to(device);
  // which attribute words each image may carry: 0 where its (class, word) pair is held out
  auto allowed_b = torch::ones({data.labels.size(0)}, torch::kBool), allowed_s = allowed_b.clone();
  for (const auto& p : held_out) {
    auto hit = (data.labels == p.label) & ((p.attribute == 0 ? attr.brightness_word : attr.size_word) == p.value);
    (p.attribute == 0 ? allowed_b : allowed_s).masked_fill_(hit, false);
  }
  torch::Tensor y_batch;
  dm::ch06::CfgLossParts cparts;
  cparts.eps_theta = text_eps(tm.model, captions);
  cparts.uniforms = [&](std::int64_t B) { return torch::rand({B}).to(device); };
  cparts.drop_labels = dm::ch06::drop_labels;  // 06.1
  cparts.loss = dm::ch03::l_simple;            // 03.2
  dm::ch03::TrainStepParts parts;
  parts.params = tm.model->parameters();
  parts.loss = [&](const dm::ch02::Schedule& s, const dm::ch03::EpsModel&, const torch::Tensor& x0,
                   const torch::Tensor& t, const torch::Tensor& eps) {
    return dm::ch06::cfg_loss(cparts, s, x0, y_batch, t, eps, cfg.p_uncond, captions.K);  // 06.4
  };
  parts.draws.timesteps = [&](std::int64_t B, std::int64_t T) {
    return torch::randint(T, {B}, torch::kLong).to(device);
  };
  parts.draws.noise = [&](const torch::Tensor& x0) { return torch::randn(x0.sizes()).to(device); };
  parts.zero_grad = [&] { opt.zero_grad(); };
  parts.optimizer_step = [&] { opt.step(); };
  parts.update_ema = [&](std::int64_t step) {
    dm::ch03::ema_update(tm.ema->parameters(), tm.model->parameters(), dm::ch03::ema_decay(step, cfg.ema));
  };
  tm.model->train();
  dm::train::LoopHooks hooks;
  hooks.save = save;
  hooks.step = [&](std::int64_t step) {
    const double lr = cfg.lr * std::min(1.0, double(step + 1) / double(std::max<std::int64_t>(cfg.warmup, 1)));
    for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    auto idx = torch::randint(images.size(0), {cfg.batch}, torch::kLong);
    auto say_b = (torch::rand({cfg.batch}) < cfg.p_word) & allowed_b.index_select(0, idx);
    auto say_s = (torch::rand({cfg.batch}) < cfg.p_word) & allowed_s.index_select(0, idx);
    auto b = torch::where(say_b, attr.brightness_word.index_select(0, idx), torch::full_like(idx, -1));
    auto s = torch::where(say_s, attr.size_word.index_select(0, idx), torch::full_like(idx, -1));
    y_batch = (data.labels.index_select(0, idx) * 9 + (b + 1) * 3 + (s + 1)).to(device);  // caption_table's order
    const auto r = dm::nn::with_oom_advice("the training step", cfg.batch, [&] {
      return dm::ch03::train_step(parts, tm.s, images.index_select(0, idx.to(device)), step, cfg.grad_clip);  // 03.6
    });
    return dm::train::StepOutcome{r.loss, r.stepped};
  };
  return dm::train::run_training(loop, hooks, step0, losses);
}
// ANCHOR_END: text_train

// A proportion's 95 % Wilson interval as JSON and as text.
nlohmann::json acc_json(const Accuracy& a, double n) { return {{"value", a.value}, {"ci", {a.lo, a.hi}}, {"n", n}}; }
std::string acc_text(const Accuracy& a) { return fmt::format("{:.3f} [{:.3f}, {:.3f}]", a.value, a.lo, a.hi); }
Accuracy rate(const torch::Tensor& ok) {
  return wilson(ok.to(torch::kFloat64).sum().item<double>(), double(std::max<std::int64_t>(ok.numel(), 1)));
}
// The difference of two independent proportions with its 95 % interval (normal approximation).
Accuracy difference(const torch::Tensor& a, const torch::Tensor& b) {
  const double na = double(a.numel()), nb = double(b.numel());
  const double pa = a.to(torch::kFloat64).mean().item<double>(), pb = b.to(torch::kFloat64).mean().item<double>();
  const double d = pa - pb, sd = std::sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb);
  return {d, d - 1.96 * sd, d + 1.96 * sd, 0};
}

// Gray [N, 1, H, W] maps in [0, 1] (scaled by `top`) as images in [-1, 1].
torch::Tensor as_image(const torch::Tensor& maps, double top) {
  return (maps / std::max(top, 1e-12)).clamp(0, 1) * 2 - 1;
}

// A strip of columns (make_grid with pad 2, scale 3: cells of 28 * 3 + 2 px) with a name on the left of each row.
cv::Mat with_row_names(const cv::Mat& strip, const std::vector<std::string>& names, int margin) {
  const int cell = 28 * 3 + 2;
  cv::Mat out(strip.rows, strip.cols + margin, strip.type(), cv::Scalar::all(255));
  strip.copyTo(out(cv::Rect(margin, 0, strip.cols, strip.rows)));
  for (std::size_t r = 0; r < names.size(); ++r)
    cv::putText(out, names[r], cv::Point(4, 6 + int(r) * cell + cell / 2), cv::FONT_HERSHEY_SIMPLEX, 0.45,
                cv::Scalar::all(0), 1, cv::LINE_AA);
  return out;
}

}  // namespace

void check_text_config(const TextConfig& cfg) {
  const auto vocab = dm::Vocabulary::fashion_mnist();
  vocab.encode(cfg.prompts);  // unknown words, prompts too long: dm::UsageError
  vocab.encode({cfg.attention_prompt});
  for (const auto& p : cfg.held_out) parse_pair(p);
}

nlohmann::json run_text_prompts(const TextConfig& cfg, const TextRun& run_opt, const dm::CommonFlags& flags,
                                const torch::Device& device, const std::function<const dm::eval::Evaluator&()>& judge,
                                dm::RunDir& run, bool& interrupted) {
  const auto t_part = Clock::now();
  const auto vocab = dm::Vocabulary::fashion_mnist();
  const dm::nn::AttentionFn attend = dm::ch06::cross_attention;  // 06.12, in the encoder and the U-Net
  std::set<Pair> held_out;
  for (const auto& p : cfg.held_out) held_out.insert(parse_pair(p));
  nlohmann::json m;
  std::vector<std::string> held_names;
  for (const auto& p : held_out) held_names.push_back(pair_name(p));
  fmt::print("\ntext prompts: vocabulary of {} words (context {} tokens): {}\n", vocab.size() - 2, vocab.context(),
             fmt::join(vocab.words().begin() + 2, vocab.words().end(), ", "));
  fmt::print("text: held-out pairs (never written together in a caption): {}\n", fmt::join(held_names, ", "));

  // ---- the training images' words (your 06.13) ----
  const auto data = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
  const auto attr = measure(data);
  fmt::print("text: class medians of brightness {:.3f}..{:.3f}, of size {:.3f}..{:.3f} (60000 training images)\n",
             attr.brightness_median.min().item<double>(), attr.brightness_median.max().item<double>(),
             attr.size_median.min().item<double>(), attr.size_median.max().item<double>());

  // ---- the model ----
  const std::filesystem::path ckpt = run.file("text_ckpt.pt");
  TextModel tm;
  if (run_opt.resume) {
    tm.ucfg = dm::nn::read_checkpoint_info(ckpt).config;
    tm.model = dm::nn::UNet(tm.ucfg, dm::ch03::sinusoidal_embedding_fn());
  } else {
    tm = text_model_from(cfg.init, cfg.init_sha256, vocab, device);
  }
  tm.model->set_attention(attend);
  tm.ema = dm::nn::UNet(tm.ucfg, dm::ch03::sinusoidal_embedding_fn());
  tm.ema->set_attention(attend);
  dm::nn::copy_weights(*tm.model, *tm.ema);
  tm.model->to(device);
  tm.ema->to(device);
  tm.ema->eval();
  torch::optim::AdamW opt(tm.model->parameters(), torch::optim::AdamWOptions(cfg.lr));
  std::vector<double> losses;
  std::int64_t step = 0;
  dm::nn::TrainingState state{tm.model, tm.ema, &opt, 0, nlohmann::json::object()};
  if (run_opt.resume) {
    dm::nn::load_checkpoint(ckpt, state);
    step = state.step;
    losses = state.meta.value("losses", std::vector<double>{});
    tm.started_from = state.meta.value("started_from", nlohmann::json::object());
    tm.s = schedule_from(state.meta);
    fmt::print("text: loaded checkpoint {} at step {}\n", ckpt.string(), step);
  }
  fmt::print("text U-Net: {} | parameters = {}\n", tm.ucfg.describe(), tm.model->num_parameters());
  if (run_opt.sample_only && tm.meta.value("kind_of_model", std::string{}) != "text")
    throw dm::UserError(
        fmt::format("--sample-only: {} is not a text model of this part: train one first, without "
                    "--sample-only",
                    cfg.init));
  // CFG needs the unconditional model (the empty prompt): refuse before anything is trained or sampled
  const double p_uncond_seen =
      std::max(run_opt.sample_only ? 0.0 : cfg.p_uncond,
               tm.meta.value("kind_of_model", std::string{}) == "text" ? tm.meta.value("p_uncond", 0.0) : 0.0);
  const bool guides = cfg.prompt_w != 0 || std::any_of(cfg.w.begin(), cfg.w.end(), [](double w) { return w != 0; });
  if (guides && !run_opt.train_only && p_uncond_seen <= 0)
    throw dm::UserError(
        "classifier-free guidance needs the unconditional model, and this text model never saw the empty prompt "
        "(p_uncond = 0): train with --p-uncond 0.1, or ask only for --text-w 0 --prompt-w 0");
  const auto captions = prompt_table(vocab, caption_table(), device);
  nlohmann::json held_json = held_names;
  auto file_meta = [&](std::int64_t total, std::int64_t here) {
    return nlohmann::json{{"kind_of_model", "text"},
                          {"step", total},
                          {"steps_here", here},
                          {"schedule", "linear"},
                          {"T", tm.s.T()},
                          {"beta", to_vector(tm.s.beta)},
                          {"weights", "ema"},
                          {"p_uncond", cfg.p_uncond},
                          {"p_word", cfg.p_word},
                          {"vocabulary", vocab.words()},
                          {"held_out", held_json},
                          {"brightness_median", to_vector(attr.brightness_median)},
                          {"size_median", to_vector(attr.size_median)},
                          {"started_from", tm.started_from},
                          {"track", dm::track()}};
  };
  if (!run_opt.sample_only && !run_opt.resume && tm.meta.contains("held_out") && tm.meta["held_out"] != held_json)
    throw dm::UserError(
        fmt::format("--text-init {} was trained holding out {}, this run holds out {}: the held-out "
                    "pairs must be fixed before training (pass --held-out with the file's pairs)",
                    cfg.init, tm.meta["held_out"].dump(), held_json.dump()));

  // ---- train ----
  double train_wall = 0;
  if (!run_opt.sample_only) {
    auto save = [&](std::int64_t at) {
      state.step = at;
      state.meta = file_meta(tm.started_from.value("step", std::int64_t{0}) + at, at);
      state.meta["losses"] = losses;
      dm::nn::save_checkpoint(ckpt, state);
    };
    dm::train::LoopOptions loop;
    loop.steps = cfg.steps;
    loop.ckpt_every = cfg.ckpt_every;
    loop.stop_after = run_opt.stop_after;
    loop.label = "text";
    loop.nan_advice = fmt::format("lower --text-lr (now {}) or raise --warmup (now {})", cfg.lr, cfg.warmup);
    fmt::print("text: training {} steps of {} images (p_word = {}, p_uncond = {})\n", cfg.steps, cfg.batch, cfg.p_word,
               cfg.p_uncond);
    const auto trained = train_text(tm, opt, losses, step, data, attr, held_out, cfg, captions, device, loop, save);
    if (trained.interrupted) {
      interrupted = true;
      return m;
    }
    train_wall = trained.seconds;
    fmt::print("text: train wall time = {:.1f} s\n", trained.seconds);
    if (!losses.empty()) {
      dm::train::plot_losses(losses, run.file("text_loss.png"), "L_simple, captions dropped to the empty prompt",
                             "loss (MSE of eps)");
      fmt::print("text: loss first = {:.4f}, last (centred mean) = {:.4f}\n", losses.front(),
                 dm::train::smooth_centred(losses).back());
    }
    const auto here = std::max(trained.done, step);
    dm::nn::save_model_file(run.file("text_model.dmt"), tm.ema, tm.ucfg,
                            file_meta(tm.started_from.value("step", std::int64_t{0}) + here, here));
    fmt::print("wrote {} (the EMA weights)\n", run.file("text_model.dmt").string());
  }
  m["train"] = {{"steps", run_opt.sample_only ? 0 : cfg.steps},
                {"batch", cfg.batch},
                {"lr", cfg.lr},
                {"p_uncond", cfg.p_uncond},
                {"p_word", cfg.p_word},
                {"ema", cfg.ema},
                {"wall_s", train_wall},
                {"started_from", tm.started_from}};
  m["held_out"] = held_json;
  m["unet"] = tm.ucfg.to_json();
  m["parameters"] = tm.model->num_parameters();
  if (run_opt.train_only) return m;
  torch::NoGradGuard no_grad;

  // ---- evaluate: 40 prompts at each w, the same noise at every w ----
  const auto& ev = judge();
  std::vector<std::string> prompts;
  std::vector<std::int64_t> p_label;
  std::vector<int> p_bright, p_size;
  for (std::int64_t c = 0; c < kClasses; ++c)
    for (int b = 0; b < 2; ++b)
      for (int s = 0; s < 2; ++s) {
        prompts.push_back(dm::fashion_mnist_caption(c, b, s));
        p_label.push_back(c), p_bright.push_back(b), p_size.push_back(s);
      }
  const auto table = prompt_table(vocab, prompts, device);
  const auto P = table.K, n = P * cfg.per_prompt;
  const auto y = torch::arange(n, torch::kLong) % P;  // prompt of each image
  const auto label = torch::tensor(p_label).index_select(0, y),
             bright = torch::tensor(p_bright).to(torch::kLong).index_select(0, y),
             size = torch::tensor(p_size).to(torch::kLong).index_select(0, y);
  // which images' prompts hold a held-out pair, and in which attribute
  auto held_b = torch::zeros({n}, torch::kBool), held_s = held_b.clone();
  for (const auto& p : held_out)
    ((p.attribute == 0) ? held_b : held_s)
        .logical_or_(torch::logical_and(label == p.label, ((p.attribute == 0) ? bright : size) == p.value));
  const auto held_any = held_b | held_s;
  const auto x_T = torch::randn({n, 1, 28, 28}, make_gen(flags.seed + 11)).to(device);
  fmt::print(
      "\ntext: {} prompts \"a <size> <brightness> <class>\" x {} images = {} per w, DDIM {} steps (eta 0), the same "
      "noise at every w; {} images' prompts hold a held-out pair\n",
      P, cfg.per_prompt, n, cfg.sample_steps, held_any.sum().item<std::int64_t>());
  std::vector<torch::Tensor> sets;
  nlohmann::json rows = nlohmann::json::array();
  struct Line {
    Accuracy cls, b, s, all, seen, held, diff, cls_seen, cls_held;
  };
  std::vector<Line> lines;
  for (double w : cfg.w) {
    const auto t0 = Clock::now();
    sets.push_back(sample_in_batches(n, cfg.sample_batch, [&](std::int64_t start, std::int64_t k) {
      return sample_text(tm.ema, table, tm.s.alpha_bar, x_T.slice(0, start, start + k),
                         y.slice(0, start, start + k).to(device), w, cfg.sample_steps);
    }));
    const auto& x = sets.back();
    const auto cls_ok = ev.probabilities(x).argmax(1) == label;
    const auto b_ok =
        (dm::image_brightness(x) > attr.brightness_median.index_select(0, label)).to(torch::kLong) == bright;
    const auto s_ok = (dm::image_size(x) > attr.size_median.index_select(0, label)).to(torch::kLong) == size;
    // attribute accuracy per (class, attribute) pair named by the prompt: seen pairs against held-out ones
    const auto pair_ok = torch::cat({b_ok, s_ok}), pair_held = torch::cat({held_b, held_s});
    const auto seen_ok = pair_ok.masked_select(~pair_held), held_ok = pair_ok.masked_select(pair_held);
    Line l{rate(cls_ok),
           rate(b_ok),
           rate(s_ok),
           rate(cls_ok & b_ok & s_ok),
           rate(seen_ok),
           rate(held_ok),
           held_ok.numel() > 0 ? difference(held_ok, seen_ok) : Accuracy{},
           rate(cls_ok.masked_select(~held_any)),
           rate(cls_ok.masked_select(held_any))};
    lines.push_back(l);
    fmt::print("w = {:g}: class {} | brightness {} | size {} | all three {} ({:.0f} s)\n", w, acc_text(l.cls),
               acc_text(l.b), acc_text(l.s), acc_text(l.all), since(t0));
    rows.push_back({{"w", w},
                    {"n", n},
                    {"class", acc_json(l.cls, double(n))},
                    {"brightness", acc_json(l.b, double(n))},
                    {"size", acc_json(l.s, double(n))},
                    {"all_three", acc_json(l.all, double(n))},
                    {"attribute_seen_pairs", acc_json(l.seen, double(seen_ok.numel()))},
                    {"attribute_held_out_pairs", acc_json(l.held, double(held_ok.numel()))},
                    {"held_minus_seen", {{"value", l.diff.value}, {"ci", {l.diff.lo, l.diff.hi}}}},
                    {"class_seen_prompts", acc_json(l.cls_seen, double((~held_any).sum().item<std::int64_t>()))},
                    {"class_held_out_prompts", acc_json(l.cls_held, double(held_any.sum().item<std::int64_t>()))},
                    {"wall_s", since(t0)}});
  }
  // ANCHOR: text_table
  const auto n_seen = rows[0]["attribute_seen_pairs"]["n"].get<double>(),
             n_held = rows[0]["attribute_held_out_pairs"]["n"].get<double>();
  fmt::print("\n{:>4}  {:>21}  {:>21}  {:>21}  {:>21}\n", "w", "class", "brightness word", "size word", "all three");
  for (std::size_t i = 0; i < lines.size(); ++i)
    fmt::print("{:>4g}  {:>21}  {:>21}  {:>21}  {:>21}\n", cfg.w[i], acc_text(lines[i].cls), acc_text(lines[i].b),
               acc_text(lines[i].s), acc_text(lines[i].all));
  fmt::print(
      "(n = {} images per row, 95 % Wilson intervals; class: the evaluation classifier, {:.1f} % on the test set; "
      "a word: the image's own brightness or size on the side of its class's median that the word says, 0.5 "
      "by chance)\n",
      n, 100 * ev.classifier_accuracy());
  fmt::print("\nheld-out pairs ({}) against seen pairs: the attribute word of the pair obeyed\n",
             fmt::join(held_names, ", "));
  fmt::print("{:>4}  {:>21}  {:>21}  {:>24}  {:>21}  {:>21}\n", "w", fmt::format("seen (n = {:.0f})", n_seen),
             fmt::format("held out (n = {:.0f})", n_held), "held out - seen [95 %]", "class, seen prompts",
             "class, held-out prompts");
  for (std::size_t i = 0; i < lines.size(); ++i)
    fmt::print("{:>4g}  {:>21}  {:>21}  {:>24}  {:>21}  {:>21}\n", cfg.w[i], acc_text(lines[i].seen),
               acc_text(lines[i].held),
               fmt::format("{:+.3f} [{:+.3f}, {:+.3f}]", lines[i].diff.value, lines[i].diff.lo, lines[i].diff.hi),
               acc_text(lines[i].cls_seen), acc_text(lines[i].cls_held));
  fmt::print("(a difference whose interval holds 0 is not one)\n");
  // ANCHOR_END: text_table
  m["sweep"] = {{"rows", rows}, {"ddim_steps", cfg.sample_steps}, {"per_prompt", cfg.per_prompt}};

  // text_grid.png: rows classes; for each w, the four attribute prompts (the first image of each)
  {
    std::vector<cv::Mat> columns;
    std::vector<std::string> caps;
    for (std::size_t i = 0; i < sets.size(); ++i)
      for (int b = 0; b < 2; ++b)
        for (int s = 0; s < 2; ++s) {
          std::vector<torch::Tensor> cells;
          for (std::int64_t c = 0; c < kClasses; ++c) cells.push_back(sets[i][c * 4 + b * 2 + s]);
          columns.push_back(dm::make_grid(torch::stack(cells), 1, 2, 3));
          caps.push_back(fmt::format("w={:g} {} {}", cfg.w[i], dm::kSizeWords[std::size_t(s)],
                                     dm::kBrightnessWords[std::size_t(b)]));
        }
    std::vector<std::string> names(dm::fashion_mnist_class_words().begin(), dm::fashion_mnist_class_words().end());
    dm::save_png(run.file("text_grid.png"), with_row_names(dm::labelled_strip(columns, caps), names, 90));
  }
  // text_accuracy.png: class and attribute accuracy against w; attribute on seen and held-out pairs
  {
    dm::Figure f1{"class and attribute words against w", "w", "accuracy"};
    dm::Figure f2{"attribute word: seen vs held-out pairs", "w", "accuracy"};
    auto series = [&](dm::Figure& f, const std::string& name, const std::function<Accuracy(const Line&)>& get) {
      std::vector<double> v, lo, hi;
      for (const auto& l : lines) v.push_back(get(l).value), lo.push_back(get(l).lo), hi.push_back(get(l).hi);
      f.line(cfg.w, v, name).errors(lo, hi);
    };
    series(f1, "class", [](const Line& l) { return l.cls; });
    series(f1, "brightness", [](const Line& l) { return l.b; });
    series(f1, "size", [](const Line& l) { return l.s; });
    series(f2, "seen pairs", [](const Line& l) { return l.seen; });
    series(f2, "held-out pairs", [](const Line& l) { return l.held; });
    f1.ylim(0, 1);
    f2.ylim(0, 1);
    dm::save_png(run.file("text_accuracy.png"), dm::hstack({f1.render(), f2.render()}));
  }

  // ---- text_attention.png: each token's map across the reverse process, for one prompt ----
  const double w_show = cfg.w.back();
  {
    const auto one = prompt_table(vocab, {cfg.attention_prompt}, device);
    const auto words = dm::Vocabulary::split(cfg.attention_prompt);
    std::vector<std::string> tokens = {"<start>"};
    tokens.insert(tokens.end(), words.begin(), words.end());
    const auto L = static_cast<std::int64_t>(tokens.size());
    std::vector<torch::Tensor> maps, x0s;  // per recorded step: [L, 28, 28], [1, 28, 28]
    std::vector<std::int64_t> ts;
    tm.ema->record_attention(true);
    sample_text(tm.ema, one, tm.s.alpha_bar, torch::randn({1, 1, 28, 28}, make_gen(flags.seed + 12)).to(device),
                torch::zeros({1}, torch::kLong).to(device), w_show, cfg.sample_steps,
                [&](std::int64_t i, std::int64_t t, const torch::Tensor&, const torch::Tensor& x0_hat) {
                  maps.push_back(tm.ema->attention_maps()[0].slice(0, 0, L).cpu());  // row 0: the prompt's pass
                  x0s.push_back(x0_hat[0].cpu().clamp(-1, 1));
                  ts.push_back(t);
                });
    tm.ema->record_attention(false);
    {  // six steps, evenly spaced, the first and the last among them
      const auto n_rec = static_cast<std::int64_t>(maps.size()), shown = std::min<std::int64_t>(6, n_rec);
      std::vector<torch::Tensor> m2, x2;
      std::vector<std::int64_t> t2;
      for (std::int64_t j = 0; j < shown; ++j) {
        const auto k = shown == 1 ? 0 : j * (n_rec - 1) / (shown - 1);
        m2.push_back(maps[std::size_t(k)]), x2.push_back(x0s[std::size_t(k)]), t2.push_back(ts[std::size_t(k)]);
      }
      maps = m2, x0s = x2, ts = t2;
    }
    double top = 0;
    for (const auto& mp : maps) top = std::max(top, mp.max().item<double>());
    std::vector<cv::Mat> columns;
    std::vector<std::string> caps;
    for (std::size_t k = 0; k < maps.size(); ++k) {
      auto col = torch::cat({x0s[k].unsqueeze(0), as_image(maps[k].unsqueeze(1), top)});  // [1 + L, 1, 28, 28]
      columns.push_back(dm::make_grid(col, 1, 2, 3));
      caps.push_back(fmt::format("t = {}", ts[k]));
    }
    std::vector<std::string> names = {"x0_hat"};  // the rows: x0_hat, then the tokens
    names.insert(names.end(), tokens.begin(), tokens.end());
    dm::save_png(run.file("text_attention.png"), with_row_names(dm::labelled_strip(columns, caps), names, 90));
    fmt::print("text: attention maps of \"{}\" at w = {:g}, {} steps shown, white = weight {:.3f} (the largest)\n",
               cfg.attention_prompt, w_show, maps.size(), top);
    m["attention"] = {{"prompt", cfg.attention_prompt}, {"w", w_show}, {"max_weight", top}};
  }

  // ---- text_prompts.png and text_video.mp4: the --prompt prompts ----
  {
    auto shown = cfg.prompts;
    if (shown.empty()) shown = {"a dark sandal", "a small light bag"};
    const auto tbl = prompt_table(vocab, shown, device);
    const auto k = cfg.prompt_samples, total = tbl.K * k;
    const auto yy =
        torch::div(torch::arange(total, torch::kLong), k, "floor").to(device);  // prompt p: images p*k .. p*k + k-1
    std::unique_ptr<dm::VideoWriter> vw;
    int frame_width = 0;  // every frame as wide as the longest caption can be (a video's frames have one size)
    for (const auto& p : shown) {
      int baseline = 0;
      frame_width =
          std::max(frame_width, cv::getTextSize(fmt::format("\"{}\"  (w = {:g}, x0_hat at t = 0000)", p, cfg.prompt_w),
                                                cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &baseline)
                                        .width +
                                    8);
    }
    auto frame_of = [&](const torch::Tensor& x0_hat, const std::string& when) {
      std::vector<cv::Mat> rows_img;
      for (std::int64_t p = 0; p < tbl.K; ++p) {
        auto row = dm::make_grid(x0_hat.slice(0, p * k, p * k + k).cpu().clamp(-1, 1), int(k), 2, 3);
        const auto text = fmt::format("\"{}\"  (w = {:g}, {})", shown[std::size_t(p)], cfg.prompt_w, when);
        const int width = std::max(row.cols, frame_width);
        cv::Mat labelled(row.rows + 22, width, row.type(), cv::Scalar::all(255));
        row.copyTo(labelled(cv::Rect(0, 22, row.cols, row.rows)));
        cv::putText(labelled, text, cv::Point(4, 16), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar::all(0), 1,
                    cv::LINE_AA);
        rows_img.push_back(labelled);
      }
      cv::Mat out;
      cv::vconcat(rows_img, out);
      return out;
    };
    const auto x =
        sample_text(tm.ema, tbl, tm.s.alpha_bar, torch::randn({total, 1, 28, 28}, make_gen(flags.seed + 13)).to(device),
                    yy, cfg.prompt_w, cfg.sample_steps,
                    [&](std::int64_t, std::int64_t t, const torch::Tensor&, const torch::Tensor& x0_hat) {
                      auto f = frame_of(x0_hat, fmt::format("x0_hat at t = {}", t));
                      if (!vw) vw = std::make_unique<dm::VideoWriter>(run.file("text_video.mp4"), 8, f.size());
                      vw->write(f);
                    });
    auto last = frame_of(x, "the samples");
    for (int i = 0; i < 8 && vw; ++i) vw->write(last);  // hold the result a second
    if (vw) vw->close();
    dm::save_png(run.file("text_prompts.png"), last);
    fmt::print("text: wrote text_prompts.png and text_video.mp4 ({} prompts x {} images, w = {:g})\n", tbl.K, k,
               cfg.prompt_w);
    m["prompts"] = {{"prompts", shown}, {"w", cfg.prompt_w}, {"per_prompt", k}};
  }
  m["wall_s"] = since(t_part);
  return m;
}

}  // namespace ch06
