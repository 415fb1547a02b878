// A minimal PNG encoder (8-bit grayscale or RGB, no interlace, one zlib IDAT chunk,
// filter "none" per row) on zlib, and a small RGB canvas to draw figures into: filled
// rectangles, lines and text in an embedded 5x7 pixel font (with descenders).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vq::app {

// The PNG file image of `pixels` (row-major, `channels` bytes per pixel: 1 = gray,
// 3 = RGB). Throws ConfigError for width/height outside [1, 1 << 16], other channel
// counts, or a pixel buffer of the wrong size; IoError when zlib fails.
std::vector<uint8_t> encode_png(int width, int height, int channels,
                                const std::vector<uint8_t>& pixels);

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// An RGB image filled with a background colour; drawing clips to the image.
class Canvas {
 public:
  // width, height in [1, 1 << 16] (ConfigError otherwise).
  Canvas(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return w_; }
  int height() const { return h_; }
  void set(int x, int y, Rgb c);
  Rgb get(int x, int y) const;  // (0, 0, 0) outside
  // Pixels [x0, x1) x [y0, y1).
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);
  void hline(int x0, int x1, int y, Rgb c) { fill_rect(x0, y, x1, y + 1, c); }
  void vline(int x, int y0, int y1, Rgb c) { fill_rect(x, y0, x + 1, y1, c); }
  // A `thickness`-pixel line from (x0, y0) to (x1, y1) (Bresenham, square pen).
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1);
  // Text in the 5x7 font (9 rows with descenders) (letters, digits, space and . , : ; % - + / = ( ) [ ] _ # < > ' x),
  // `scale` pixels per font pixel, 6 * scale pixels per character; top-left at (x, y).
  // Lower-case letters draw as capitals; other characters as a small box.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  static int text_width(const std::string& s, int scale = 1) {
    return static_cast<int>(s.size()) * 6 * scale;
  }
  std::vector<uint8_t> png() const { return encode_png(w_, h_, 3, px_); }

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
};

}  // namespace vq::app
