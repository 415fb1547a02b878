// Training progress for `vq train`: on a terminal, one line redrawn in place (a bar,
// step, reconstruction loss, quantizer loss, active codes %, steps/s, time left);
// otherwise (a pipe, a file, CI) plain log lines every `log_every` steps, so logs stay
// readable.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "apps/train/trainer.h"

namespace vq::app {

class Progress {
 public:
  // total: the number of steps; tty: redraw one line (else log lines); log_every: steps
  // between log lines (0: about 10 lines per run); aux_name: the quantizer loss's name
  // ("commit", "entropy", "-" when the quantizer has none); columns: the bar line's
  // width (0: the terminal's on stdout).
  Progress(std::ostream& os, int64_t total, bool tty, int64_t log_every, std::string aux_name,
           int columns = 0);

  // Reports step r; `elapsed` is the training time so far in seconds. The bar is
  // redrawn at most 10 times a second (and at the last step).
  void update(const StepRecord& r, double elapsed);
  // Ends the bar's line (no-op for log lines).
  void finish();

  // "1:05" / "1:02:03" for a number of seconds.
  static std::string clock(double seconds);
  // One status line for step r (the log-line format, also used in tests).
  std::string status(const StepRecord& r, double elapsed) const;

 private:
  std::ostream& os_;
  int64_t total_;
  bool tty_;
  int64_t log_every_;
  std::string aux_name_;
  int columns_;
  double last_draw_ = -1;
  bool drawn_ = false;
};

// True when the file descriptor is a terminal (isatty) and TERM is not "dumb".
bool is_terminal(int fd);
// Columns of the terminal on fd (80 when unknown).
int terminal_width(int fd);

}  // namespace vq::app
