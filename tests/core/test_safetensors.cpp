// Tests of core/safetensors: round trips of every dtype and of metadata, the file
// layout Python expects, files written by Python's safetensors (tests/fixtures/
// safetensors, made by tools/parity/safetensors_cases.py), and one case per kind of
// malformed file, each checking the IoError message.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace fs = std::filesystem;
using namespace vq;

namespace {

fs::path tmp_dir() {
  fs::path d = fs::path(VQ_BINARY_DIR) / "test_tmp" / "safetensors";
  fs::create_directories(d);
  return d;
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  std::vector<uint8_t> v(c.nbytes());
  if (!v.empty()) std::memcpy(v.data(), c.raw_data(), v.size());
  return v;
}

template <typename T>
Tensor make(const std::vector<T>& v, const Shape& shape, DType dtype) {
  return Tensor::from_bytes(v.data(), v.size() * sizeof(T), shape, dtype);
}

// One small tensor per dtype; the same values as tools/parity/safetensors_cases.py.
std::map<std::string, Tensor> sample_tensors() {
  std::map<std::string, Tensor> m;
  m["f32"] = make<float>({-1.5f, 0.f, 2.25f, 3.f, -0.125f, 1e-3f}, {2, 3}, DType::f32);
  m["f16"] = make<uint16_t>({0x3c00, 0xc100, 0x2e66, 0x7bff}, {4}, DType::f16);
  m["bf16"] = make<uint16_t>({0x3f80, 0xc040, 0x3f00, 0x714a}, {2, 2}, DType::bf16);
  m["f64"] = make<double>({3.141592653589793, -1e-300}, {2}, DType::f64);
  m["i64"] = make<int64_t>({-(int64_t(1) << 40), 0, (int64_t(1) << 62) + 7}, {3}, DType::i64);
  m["i32"] = make<int32_t>({-7, 2147483647}, {2, 1}, DType::i32);
  m["u8"] = make<uint8_t>({0, 127, 255}, {3}, DType::u8);
  m["bool"] = make<uint8_t>({1, 0, 1, 1}, {4}, DType::boolean);
  m["scalar"] = make<float>({42.5f}, {}, DType::f32);
  m["empty"] = Tensor::empty({0, 3}, DType::f32);
  m["nested.name/with:chars"] = make<int64_t>({7}, {1}, DType::i64);
  return m;
}

void check_same(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want) {
  REQUIRE(got.size() == want.size());
  for (const auto& [name, w] : want) {
    INFO("tensor ", name);
    auto it = got.find(name);
    REQUIRE(it != got.end());
    const Tensor& g = it->second;
    CHECK(g.dtype() == w.dtype());
    CHECK(g.shape() == w.shape());
    CHECK(g.device().is_cpu());
    CHECK(g.is_contiguous());
    CHECK(bytes_of(g) == bytes_of(w));
  }
}

// A safetensors image from raw header text and data bytes; `len` overrides the prefix.
std::vector<uint8_t> image(const std::string& header, const std::vector<uint8_t>& data = {},
                           int64_t len = -1) {
  uint64_t n = len < 0 ? header.size() : static_cast<uint64_t>(len);
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Parses `img` expecting an IoError; returns its message (empty if none was thrown).
std::string parse_error(const std::vector<uint8_t>& img) {
  try {
    parse_safetensors(img.data(), img.size(), "bad.safetensors");
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

#define CHECK_PARSE_FAILS(img, needle)                                   \
  do {                                                                   \
    std::string msg_ = parse_error(img);                                 \
    INFO("message: ", msg_);                                             \
    CHECK(msg_.find("safetensors 'bad.safetensors'") != std::string::npos); \
    CHECK(msg_.find(needle) != std::string::npos);                      \
  } while (0)

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":" + offsets + "}";
}

}  // namespace

TEST_CASE("safetensors: every dtype round-trips through memory and through a file") {
  auto tensors = sample_tensors();
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"step", "12"}, {"", "empty key"}};
  auto img = serialize_safetensors(tensors, meta);
  SafetensorsFile a = parse_safetensors(img.data(), img.size(), "mem");
  check_same(a.tensors, tensors);
  CHECK(a.metadata == meta);

  fs::path p = tmp_dir() / "roundtrip.safetensors";
  save_safetensors(p.string(), tensors, meta);
  SafetensorsFile b = load_safetensors(p.string());
  check_same(b.tensors, tensors);
  CHECK(b.metadata == meta);
  // The file is byte-identical to the in-memory image.
  std::ifstream f(p, std::ios::binary);
  std::vector<uint8_t> disk((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(disk == img);
}

TEST_CASE("safetensors: strided views are saved as their logical contents") {
  Tensor base = Tensor::arange(0, 12, 1, DType::i64).reshape({3, 4});
  Tensor t = base.transpose(0, 1);  // [4, 3], not contiguous
  auto img = serialize_safetensors({{"t", t}, {"s", base.slice(1, 1, 3)}});
  auto f = parse_safetensors(img.data(), img.size(), "mem");
  CHECK(f.tensors["t"].shape() == Shape{4, 3});
  CHECK(f.tensors["t"].to_vector<int64_t>() == t.contiguous().to_vector<int64_t>());
  CHECK(f.tensors["s"].to_vector<int64_t>() == std::vector<int64_t>{1, 2, 5, 6, 9, 10});
}

TEST_CASE("safetensors: layout is what Python's safetensors writes") {
  auto img = serialize_safetensors(sample_tensors(), {{"k", "v"}});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | img[i];
  CHECK(n % 8 == 0);  // header padded so the data buffer is 8-byte aligned
  std::string header(img.begin() + 8, img.begin() + 8 + n);
  CHECK(header.front() == '{');
  CHECK(header.find("\"__metadata__\":{\"k\":\"v\"}") != std::string::npos);
  CHECK(header[header.find_last_not_of(' ')] == '}');  // padding is spaces only
  // Larger elements first, so every tensor is aligned to its element size.
  CHECK(header.find("\"dtype\":\"F64\",\"shape\":[2]") != std::string::npos);
  CHECK(header.find("\"f64\":{\"data_offsets\":[0,16]") != std::string::npos);

  auto no_meta = serialize_safetensors({{"x", Tensor::zeros({2})}});
  std::string h2(no_meta.begin() + 8, no_meta.end() - 8);
  CHECK(h2.find("__metadata__") == std::string::npos);
}

TEST_CASE("safetensors: empty file and empty tensors") {
  auto img = serialize_safetensors({});
  CHECK(img.size() == 16);  // "{}" padded to 8
  auto f = parse_safetensors(img.data(), img.size(), "mem");
  CHECK(f.tensors.empty());
  CHECK(f.metadata.empty());
}

TEST_CASE("safetensors: save replaces an existing file and leaves no temporary behind") {
  fs::path d = tmp_dir() / "atomic";
  fs::remove_all(d);
  fs::create_directories(d);
  fs::path p = d / "ckpt.safetensors";
  save_safetensors(p.string(), {{"a", Tensor::ones({3})}});
  save_safetensors(p.string(), {{"b", Tensor::zeros({2})}});
  auto f = load_safetensors(p.string());
  CHECK(f.tensors.count("a") == 0);
  CHECK(f.tensors.count("b") == 1);
  int files = 0;
  for (const auto& e : fs::directory_iterator(d)) files += e.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("safetensors: save errors name the path") {
  std::string bad = (tmp_dir() / "no_such_dir" / "x.safetensors").string();
  CHECK_THROWS_AS(save_safetensors(bad, {{"a", Tensor::ones({1})}}), IoError);
  try {
    save_safetensors(bad, {{"a", Tensor::ones({1})}});
  } catch (const IoError& e) {
    CHECK(std::string(e.what()).find(bad) != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(serialize_safetensors({{"__metadata__", Tensor::ones({1})}}),
                       doctest::Contains("reserved"), IoError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({{"u", Tensor()}}),
                       doctest::Contains("tensor 'u' is undefined"), IoError);
  CHECK_THROWS_WITH_AS(serialize_safetensors({{"bad\xff", Tensor::ones({1})}}),
                       doctest::Contains("UTF-8"), IoError);
}

TEST_CASE("safetensors: load errors for missing and non-regular files") {
  std::string missing = (tmp_dir() / "missing.safetensors").string();
  CHECK_THROWS_WITH_AS(load_safetensors(missing), doctest::Contains("cannot open"), IoError);
  CHECK_THROWS_WITH_AS(load_safetensors(tmp_dir().string()),
                       doctest::Contains("not a regular file"), IoError);
}

// ---- files written by Python's safetensors ----

TEST_CASE("safetensors: loads files written by Python (torch and numpy writers)") {
  const fs::path dir = fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures" / "safetensors";
  SafetensorsFile f = load_safetensors((dir / "py_all_dtypes.safetensors").string());
  check_same(f.tensors, sample_tensors());
  CHECK(f.metadata == std::map<std::string, std::string>{
                          {"format", "pt"}, {"producer", "vqcpp-crosslib"}, {"note", "x=1;y=\"two\""}});
  // Values, decoded, as a reader would use them.
  CHECK(f.tensors["f32"].to_vector<float>()[2] == 2.25f);
  CHECK(f.tensors["i64"].to_vector<int64_t>()[2] == (int64_t(1) << 62) + 7);
  CHECK(f.tensors["bf16"].to(DType::f32).to_vector<float>()[1] == -3.0f);
  CHECK(f.tensors["f16"].to(DType::f32).to_vector<float>()[3] == 65504.0f);
  CHECK(f.tensors["scalar"].dim() == 0);
  CHECK(f.tensors["scalar"].item<float>() == 42.5f);

  SafetensorsFile e = load_safetensors((dir / "py_empty.safetensors").string());
  CHECK(e.tensors.empty());
  CHECK(e.metadata.empty());

  SafetensorsFile n = load_safetensors((dir / "np_small.safetensors").string());
  CHECK(n.metadata == std::map<std::string, std::string>{{"k", "v"}});
  CHECK(n.tensors["w"].shape() == Shape{3, 4});
  CHECK(n.tensors["w"].to_vector<float>()[5] == 1.25f);
  CHECK(n.tensors["idx"].to_vector<int64_t>() == std::vector<int64_t>{5, -1, 3});
}

TEST_CASE("safetensors: every committed fixture (all written by Python) loads") {
  int loaded = 0;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(VQ_SOURCE_DIR) / "tests" / "fixtures")) {
    if (e.path().extension() != ".safetensors") continue;
    INFO("fixture ", e.path().string());
    CHECK_NOTHROW(load_safetensors(e.path().string()));
    ++loaded;
  }
  CHECK(loaded >= 3);
}

TEST_CASE("safetensors: writes the file tools/parity/check_safetensors_roundtrip.py reads") {
  // Run after the tests:
  //   /work/refenv/bin/python tools/parity/check_safetensors_roundtrip.py \
  //       <build>/test_tmp/safetensors/from_cpp.safetensors
  fs::path p = tmp_dir() / "from_cpp.safetensors";
  save_safetensors(p.string(), sample_tensors(),
                   {{"format", "pt"}, {"producer", "vqcpp-crosslib"}, {"note", "x=1;y=\"two\""}});
  check_same(load_safetensors(p.string()).tensors, sample_tensors());
}

// ---- malformed files: one case per kind, each checks the message ----

TEST_CASE("safetensors malformed: too short for the length prefix") {
  CHECK_PARSE_FAILS(std::vector<uint8_t>{}, "too short");
  CHECK_PARSE_FAILS(std::vector<uint8_t>(7, 0), "only 7 bytes");
}

TEST_CASE("safetensors malformed: absurd header length") {
  CHECK_PARSE_FAILS(image("{}", {}, int64_t(200) * 1000 * 1000), "exceeds the limit");
  CHECK_PARSE_FAILS(image("{"), "header length 1 is too small");
}

TEST_CASE("safetensors malformed: header length larger than the file") {
  CHECK_PARSE_FAILS(image("{}", {}, 50), "larger than the 2 bytes");
}

TEST_CASE("safetensors malformed: header is not JSON") {
  CHECK_PARSE_FAILS(image("{\"a\":", {}), "not valid JSON");
  CHECK_PARSE_FAILS(image("{\"a\xff\":1}", {}), "not valid JSON");  // invalid UTF-8
}

TEST_CASE("safetensors malformed: header is not an object") {
  CHECK_PARSE_FAILS(image("[1, 2]   "), "header is a JSON array, not an object");
  CHECK_PARSE_FAILS(image("{\"w\":[1]}"), "tensor 'w': entry is array, not an object");
}

TEST_CASE("safetensors malformed: missing fields") {
  CHECK_PARSE_FAILS(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", std::vector<uint8_t>(4)),
                    "tensor 'w': entry lacks \"data_offsets\"");
  CHECK_PARSE_FAILS(image("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", std::vector<uint8_t>(4)),
                    "entry lacks \"dtype\"");
  CHECK_PARSE_FAILS(image("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", std::vector<uint8_t>(4)),
                    "entry lacks \"shape\"");
}

TEST_CASE("safetensors malformed: data_offsets not two non-negative integers") {
  std::vector<uint8_t> d(4);
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[0.5,4]") + "}", d),
                    "data_offsets[0] is a non-integer number");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[0,\"4\"]") + "}", d),
                    "data_offsets[1] is string");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[-4,0]") + "}", d),
                    "data_offsets[0] is a negative number");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[0,4,8]") + "}", d),
                    "\"data_offsets\" must be an array [begin, end]");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[0,1e400]") + "}", d),
                    "not valid JSON");  // number out of range for any type
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[0,99999999999999999999]") + "}", d),
                    "data_offsets[1] is a non-integer number");  // beyond uint64
}

TEST_CASE("safetensors malformed: reversed data_offsets") {
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[4,0]") + "}", std::vector<uint8_t>(4)),
                    "tensor 'w': data_offsets [4, 0] are reversed");
}

TEST_CASE("safetensors malformed: data_offsets out of range") {
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[2]", "[0,8]") + "}", std::vector<uint8_t>(4)),
                    "tensor 'w': data_offsets [0, 8] are out of range: the data buffer holds 4 bytes");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1]", "[18446744073709551612,18446744073709551615]") + "}",
                          std::vector<uint8_t>(4)),
                    "out of range");
}

TEST_CASE("safetensors malformed: overlapping tensors") {
  std::string h = "{" + entry("a", "F32", "[2]", "[0,8]") + "," + entry("b", "F32", "[1]", "[4,8]") + "}";
  CHECK_PARSE_FAILS(image(h, std::vector<uint8_t>(8)), "tensor 'b': bytes [4, 8) overlap tensor 'a' at [0, 8)");
  std::string same = "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[0,4]") + "}";
  CHECK_PARSE_FAILS(image(same, std::vector<uint8_t>(4)), "overlap");
}

TEST_CASE("safetensors malformed: gaps and uncovered bytes") {
  std::string gap = "{" + entry("a", "F32", "[1]", "[0,4]") + "," + entry("b", "F32", "[1]", "[8,12]") + "}";
  CHECK_PARSE_FAILS(image(gap, std::vector<uint8_t>(12)), "tensor 'b': data starts at 8 leaving a gap of 4 bytes after tensor 'a'");
  CHECK_PARSE_FAILS(image("{" + entry("a", "F32", "[1]", "[4,8]") + "}", std::vector<uint8_t>(8)),
                    "gap of 4 bytes after the start of the buffer");
  CHECK_PARSE_FAILS(image("{" + entry("a", "F32", "[1]", "[0,4]") + "}", std::vector<uint8_t>(6)),
                    "the data buffer holds 6 bytes but the tensors cover only 4");
  CHECK_PARSE_FAILS(image("{}", std::vector<uint8_t>(3)), "cover only 0");
}

TEST_CASE("safetensors malformed: unknown or unsupported dtype") {
  std::vector<uint8_t> d(4);
  CHECK_PARSE_FAILS(image("{" + entry("w", "F33", "[1]", "[0,4]") + "}", d),
                    "tensor 'w': unknown dtype 'F33' (supported: F32, F16, BF16, F64, I64, I32, U8, BOOL)");
  CHECK_PARSE_FAILS(image("{" + entry("w", "I8", "[4]", "[0,4]") + "}", d),
                    "tensor 'w': dtype I8 is not supported by vqcpp");
  CHECK_PARSE_FAILS(image("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", d),
                    "\"dtype\" is number, not a string");
}

TEST_CASE("safetensors malformed: bad shape entries") {
  std::vector<uint8_t> d(4);
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[-1]", "[0,4]") + "}", d),
                    "tensor 'w': shape entry 0 is a negative number");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1.0]", "[0,4]") + "}", d),
                    "shape entry 0 is a non-integer number");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "{}", "[0,4]") + "}", d),
                    "\"shape\" is object, not an array");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[1,1,1,1,1,1,1,1,1,1,1,1,1]", "[0,4]") + "}", d),
                    "shape has rank 13");
}

TEST_CASE("safetensors malformed: shape product overflows") {
  std::vector<uint8_t> d(4);
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[4294967296,4294967296]", "[0,4]") + "}", d),
                    "tensor 'w': shape [4294967296,4294967296] has an element count that overflows");
  // A zero extent must not hide an overflowing product of the others (strides overflow).
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[0,4294967296,4294967296]", "[0,0]") + "}", {}),
                    "overflows");
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[9223372036854775808]", "[0,4]") + "}", d),
                    "too large");
}

TEST_CASE("safetensors malformed: shape times dtype size disagrees with the byte count") {
  CHECK_PARSE_FAILS(image("{" + entry("w", "F32", "[2,3]", "[0,20]") + "}", std::vector<uint8_t>(20)),
                    "tensor 'w': shape [2, 3] of dtype F32 needs 24 bytes but data_offsets [0, 20] span 20");
  CHECK_PARSE_FAILS(image("{" + entry("w", "BF16", "[3]", "[0,4]") + "}", std::vector<uint8_t>(4)),
                    "needs 6 bytes");
}

TEST_CASE("safetensors malformed: duplicate names") {
  std::string h = "{" + entry("w", "F32", "[1]", "[0,4]") + "," + entry("w", "F32", "[1]", "[4,8]") + "}";
  CHECK_PARSE_FAILS(image(h, std::vector<uint8_t>(8)), "tensor 'w': name appears twice in the header");
  CHECK_PARSE_FAILS(image("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}"), "repeats the key 'k'");
}

TEST_CASE("safetensors malformed: metadata that is not string -> string") {
  CHECK_PARSE_FAILS(image("{\"__metadata__\":[]}"), "\"__metadata__\" is array, not an object");
  CHECK_PARSE_FAILS(image("{\"__metadata__\":{\"epoch\":3}}"),
                    "metadata value of 'epoch' is number, not a string");
}

TEST_CASE("safetensors malformed: bool bytes other than 0 and 1") {
  CHECK_PARSE_FAILS(image("{" + entry("m", "BOOL", "[3]", "[0,3]") + "}", {1, 0, 2}),
                    "tensor 'm': BOOL element 2 holds byte 2 (must be 0 or 1)");
}

TEST_CASE("safetensors malformed: absurdly nested header") {
  CHECK_PARSE_FAILS(image("{\"w\":" + std::string(40, '[') + std::string(40, ']') + "}"),
                    "deeper than");
}

TEST_CASE("safetensors malformed: names in messages are escaped and clipped") {
  std::string name = "a\\u0001" + std::string(300, 'n');  // JSON escape of byte 0x01
  std::string msg = parse_error(image("{" + entry(name, "F33", "[1]", "[0,4]") + "}", std::vector<uint8_t>(4)));
  CHECK(msg.find("'a\\x01nnn") != std::string::npos);
  CHECK(msg.find("...'") != std::string::npos);
  CHECK(msg.size() < 400);
}

TEST_CASE("safetensors malformed: every truncation of a valid file is an IoError") {
  auto img = serialize_safetensors(sample_tensors(), {{"k", "v"}});
  for (size_t n = 0; n < img.size(); ++n) {
    std::vector<uint8_t> cut(img.begin(), img.begin() + n);
    INFO("truncated to ", n, " bytes");
    CHECK(!parse_error(cut).empty());
  }
  // The file path reports it too (reads the header and data through stdio).
  fs::path p = tmp_dir() / "truncated.safetensors";
  {
    std::ofstream o(p, std::ios::binary);
    o.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size() - 3));
  }
  CHECK_THROWS_WITH_AS(load_safetensors(p.string()), doctest::Contains("out of range"), IoError);
}

TEST_CASE("safetensors malformed: single-byte corruptions never escape as another error") {
  auto img = serialize_safetensors(sample_tensors(), {{"k", "v"}});
  const uint8_t patterns[] = {0x00, 0xff, '"', '[', '-', '9', 0x80};
  for (size_t i = 0; i < img.size(); ++i) {
    for (uint8_t b : patterns) {
      std::vector<uint8_t> bad = img;
      bad[i] = b;
      try {
        parse_safetensors(bad.data(), bad.size(), "flip");
      } catch (const IoError&) {
      }  // any other exception type fails the test case
    }
  }
}
