// The progress bar and log lines of `vq train` (see progress.h).
#include "apps/train/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vq::app {

bool is_terminal(int fd) {
  if (!isatty(fd)) return false;
  const char* term = std::getenv("TERM");
  return !(term && std::strcmp(term, "dumb") == 0);
}

int terminal_width(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

Progress::Progress(std::ostream& os, int64_t total, bool tty, int64_t log_every,
                   std::string aux_name, int columns)
    : os_(os),
      total_(std::max<int64_t>(total, 1)),
      tty_(tty),
      log_every_(log_every > 0 ? log_every : std::max<int64_t>(1, total_ / 10)),
      aux_name_(std::move(aux_name)),
      columns_(columns) {}

std::string Progress::clock(double s) {
  if (!(s >= 0) || !std::isfinite(s)) return "?";
  long t = std::lround(s);
  char b[32];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
  return b;
}

std::string Progress::status(const StepRecord& r, double elapsed) const {
  const double rate = elapsed > 0 ? double(r.step) / elapsed : 0.0;
  const double left = rate > 0 ? double(total_ - r.step) / rate : NAN;
  char b[256];
  int n = std::snprintf(b, sizeof b, "step %lld/%lld  rec %.4f", static_cast<long long>(r.step),
                        static_cast<long long>(total_), r.rec_loss);
  if (aux_name_ != "-")
    n += std::snprintf(b + n, sizeof b - n, "  %s %.4f", aux_name_.c_str(), r.aux_loss);
  std::snprintf(b + n, sizeof b - n, "  active %.1f%%  %.2f steps/s  left %s",
                r.active_fraction * 100.0, rate, clock(left).c_str());
  return b;
}

void Progress::update(const StepRecord& r, double elapsed) {
  const bool last = r.step >= total_;
  if (!tty_) {
    if (r.step == 1 || r.step % log_every_ == 0 || last)
      os_ << "vq train: " << status(r, elapsed) << std::endl;
    return;
  }
  if (!last && drawn_ && elapsed - last_draw_ < 0.1) return;
  last_draw_ = elapsed;
  drawn_ = true;
  std::string s = status(r, elapsed);
  const int width = columns_ > 0 ? columns_ : terminal_width(STDOUT_FILENO);
  const int bar = std::min(30, width - static_cast<int>(s.size()) - 4);
  std::string line;
  if (bar >= 10) {
    const int filled = static_cast<int>(double(r.step) / double(total_) * bar);
    line = "[" + std::string(static_cast<size_t>(filled), '#') +
           std::string(static_cast<size_t>(bar - filled), '.') + "] ";
  }
  line += s;
  if (static_cast<int>(line.size()) >= width) line.resize(static_cast<size_t>(width - 1));
  os_ << "\r" << line << "\x1b[K" << std::flush;
}

void Progress::finish() {
  if (tty_ && drawn_) os_ << std::endl;
  drawn_ = false;
}

}  // namespace vq::app
