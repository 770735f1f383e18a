// COCO instances JSON -> compressed RLE, on the text (see coco_json.hpp).
#include "maskprep/coco_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "byte_scan.hpp"
#include "maskprep/polygon.hpp"
#include "maskprep/rle.hpp"
#include "maskprep/segmentation.hpp"
#include "parallel_for.hpp"

namespace maskprep::coco_json {

namespace {

using detail::concat;

constexpr int kMaxDepth = 512;    // deeper nesting is rejected instead of overflowing the stack
constexpr index_t kBatch = 8192;  // annotations per parallel batch (one progress step each)
// Largest image height or width accepted (h * w then fits 64 bits); documented in coco_json.hpp.
constexpr index_t kMaxSide = (index_t{1} << 31) - 1;

// <cctype>'s isdigit goes through the locale: too slow for a byte loop.
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

struct Span {
  index_t begin = -1, end = -1;  // [begin, end) of a value's text; begin < 0: absent
  bool present() const { return begin >= 0; }
};

// A validating JSON scanner over a byte buffer (RFC 8259 grammar, strings checked to be UTF-8
// without surrogates, raw or \u-escaped, so that the output is JSON whenever the input is).
// Positions are byte offsets.
class Scanner {
 public:
  Scanner(const char* d, index_t n) : d_(d), n_(n) {}

  [[noreturn]] void fail(index_t p, const char* what) const {
    throw SyntaxError(concat("not valid JSON at byte ", p, ": ", what));
  }
  [[noreturn]] void fail_depth(index_t p) const {
    throw SyntaxError(concat("nested deeper than ", kMaxDepth,
                             " levels of arrays and objects at byte ", p,
                             " (maskprep's limit for the JSON text)"));
  }
  char at(index_t p) const { return p < n_ ? d_[p] : '\0'; }
  index_t ws(index_t p) const {
    while (p < n_ && (d_[p] == ' ' || d_[p] == '\n' || d_[p] == '\r' || d_[p] == '\t')) ++p;
    return p;
  }

  index_t string_end(index_t p) const {  // d_[p] == '"'
    for (++p; p < n_; ++p) {
      p = detail::find_string_special(d_, p, n_);
      if (p >= n_) break;
      const unsigned char c = static_cast<unsigned char>(d_[p]);
      if (c == '"') return p + 1;
      if (c < 0x20) fail(p, "control character in a string");
      if (c >= 0x80) {
        p = utf8_end(p) - 1;
      } else if (c == '\\') {
        const char e = at(p + 1);
        if (e == 'u') {
          const unsigned u = hex4(p + 2);
          if (u >= 0xDC00 && u <= 0xDFFF) fail(p, "lone surrogate \\u escape (not valid Unicode)");
          if (u >= 0xD800 && u <= 0xDBFF) {  // must be followed by its low half
            const bool low = at(p + 6) == '\\' && at(p + 7) == 'u';
            const unsigned v = low ? hex4(p + 8) : 0;
            if (v < 0xDC00 || v > 0xDFFF) fail(p, "lone surrogate \\u escape (not valid Unicode)");
            p += 6;
          }
          p += 5;
        } else if (e == '\\' || e == '"' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {  // compared, not strchr: counts escape every '\\'
          ++p;
        } else {
          fail(p, "bad escape in a string");
        }
      }
    }
    fail(p, "unterminated string");
  }

  unsigned hex4(index_t p) const {
    unsigned u = 0;
    for (index_t k = p; k < p + 4; ++k) {
      const char h = at(k);
      if (!is_hex(h)) fail(k, "bad \\u escape");
      u = u * 16 + static_cast<unsigned>(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return u;
  }

  // End of the UTF-8 sequence at p (d_[p] >= 0x80): RFC 3629, no overlong forms, no
  // surrogates, nothing above U+10FFFF.
  index_t utf8_end(index_t p) const {
    const unsigned char c = static_cast<unsigned char>(d_[p]);
    int len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      fail(p, "invalid UTF-8 byte in a string");
    }
    for (int k = 1; k < len; ++k) {
      const unsigned b = static_cast<unsigned char>(at(p + k));
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
        fail(p, "invalid UTF-8 sequence in a string");
    }
    return p + len;
  }

  index_t number_end(index_t p) const {
    auto digits = [&](index_t q) {  // the digit loop was most of a polygon file's scan
      const index_t s = q;
      q = detail::find_non_digit(d_, q, n_);
      if (q == s) fail(q, "expected a digit");
      return q;
    };
    const index_t start = p;
    if (at(p) == '-') ++p;
    if (at(p) == '0') {
      ++p;
    } else {
      p = digits(p);
    }
    if (at(p) == '.') p = digits(p + 1);
    bool exponent = false;
    if (at(p) == 'e' || at(p) == 'E') {
      exponent = true;
      ++p;
      if (at(p) == '+' || at(p) == '-') ++p;
      p = digits(p);
    }
    // Only an exponent or 300+ digits can leave the double range (1e400): rejected as every
    // command's parser rejects it, instead of becoming infinity. Rare, so strtod's copy is cheap.
    if (exponent || p - start > 300) {
      const std::string text(d_ + start, static_cast<size_t>(p - start));
      if (std::isinf(std::strtod(text.c_str(), nullptr)))
        fail(start, "number out of the range of a double");
    }
    return p;
  }

  // End of the value starting at or after p (leading whitespace skipped).
  index_t value_end(index_t p, int depth = 0) const {
    p = ws(p);
    const char c = at(p);
    if (c == '{') return members(p, depth, [](Span, Span) {});
    if (c == '[') return elements(p, depth, [](Span) {});
    if (c == '"') return string_end(p);
    if (c == 'N' || c == 'I' || (c == '-' && at(p + 1) == 'I'))
      fail(p, "NaN/Infinity are not valid JSON");
    if (c == '-' || is_digit(c)) return number_end(p);
    for (const char* lit : {"true", "false", "null"}) {
      const index_t len = static_cast<index_t>(std::strlen(lit));
      if (p + len <= n_ && std::memcmp(d_ + p, lit, static_cast<size_t>(len)) == 0) return p + len;
    }
    fail(p, p >= n_ ? "unexpected end of the text" : "unexpected character");
  }

  // Walks the object at p (d_[ws(p)] must be '{'), calling f(key span without quotes, value
  // span) per member; returns the end of the object.
  template <typename F>
  index_t members(index_t p, int depth, F&& f) const {
    return scan_members(p, depth, [&](Span key, index_t vb, int d) {
      const index_t e = value_end(vb, d);
      f(key, Span{vb, e});
      return e;
    });
  }

  template <typename F>
  index_t elements(index_t p, int depth, F&& f) const {
    return scan_elements(p, depth, [&](index_t vb, int d) {
      const index_t e = value_end(vb, d);
      f(Span{vb, e});
      return e;
    });
  }

  // As members, but f(key, value begin, depth) walks the value itself and returns its end
  // (value_end(begin, depth) when it has nothing to do with it): a caller that reads a value
  // does so in the same pass that validates it, instead of scanning it again afterwards.
  template <typename F>
  index_t scan_members(index_t p, int depth, F&& f) const {
    p = ws(p);
    if (at(p) != '{') fail(p, "expected an object");
    if (depth >= kMaxDepth) fail_depth(p);
    p = ws(p + 1);
    if (at(p) == '}') return p + 1;
    for (;;) {
      p = ws(p);
      if (at(p) != '"') fail(p, "expected a string key");
      const index_t key_end = string_end(p);
      const Span key{p + 1, key_end - 1};
      p = ws(key_end);
      if (at(p) != ':') fail(p, "expected ':'");
      p = ws(f(key, ws(p + 1), depth + 1));
      if (at(p) == ',') {
        ++p;
      } else if (at(p) == '}') {
        return p + 1;
      } else {
        fail(p, "expected ',' or '}'");
      }
    }
  }

  // As elements, with f(value begin, depth) returning the value's end (see scan_members).
  template <typename F>
  index_t scan_elements(index_t p, int depth, F&& f) const {
    p = ws(p);
    if (at(p) != '[') fail(p, "expected an array");
    if (depth >= kMaxDepth) fail_depth(p);
    p = ws(p + 1);
    if (at(p) == ']') return p + 1;
    for (;;) {
      p = ws(f(ws(p), depth + 1));
      if (at(p) == ',') {
        ++p;
      } else if (at(p) == ']') {
        return p + 1;
      } else {
        fail(p, "expected ',' or ']'");
      }
    }
  }

  std::string_view text(Span s) const {
    return {d_ + s.begin, static_cast<size_t>(s.end - s.begin)};
  }
  bool key_is(Span key, const char* name) const { return text(key) == name; }

 private:
  const char* d_;
  index_t n_;
};

// A JSON integer >= 0 (no fraction, no exponent) or -1 when the value is anything else.
index_t parse_count(std::string_view t) {
  index_t v = -1;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return (ec == std::errc() && ptr == t.data() + t.size() && v >= 0) ? v : -1;
}

// A JSON number as the nearest double (what Python's float() gives). Fast path (Clinger): an
// integer mantissa below 2^53 and at most 22 decimals is m / 10^k with both exact doubles, and
// one IEEE division is correctly rounded. Everything else goes to std::from_chars.
bool parse_double(std::string_view t, double& v) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = t.data();
  const char* end = p + t.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  std::uint64_t m = 0;
  int digits = 0, decimals = 0;
  bool simple = p < end;
  for (; p < end && *p >= '0' && *p <= '9'; ++p, ++digits)
    m = m * 10 + static_cast<unsigned>(*p - '0');
  if (p < end && *p == '.') {
    for (++p; p < end && *p >= '0' && *p <= '9'; ++p, ++digits, ++decimals)
      m = m * 10 + static_cast<unsigned>(*p - '0');
  }
  simple = simple && p == end && digits > 0 && digits <= 15 && decimals <= 22;
  if (simple) {  // 15 digits < 2^53: the mantissa is exact
    const double x = static_cast<double>(m) / kPow10[decimals];
    v = negative ? -x : x;
    return true;
  }
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc::result_out_of_range && ptr == t.data() + t.size()) {
    v = std::strtod(std::string(t).c_str(), nullptr);  // underflow (1e-400): 0 or a subnormal,
    return std::isfinite(v);                           // as Python's float() gives
  }
  return ec == std::errc() && ptr == t.data() + t.size();
}

// The numbers of a JSON array that the scanner has already validated ("[1.5, 2, ...]"),
// appended to xy as parse_double reads them, in one pass: walking each element with the
// scanner first and parsing it after read every coordinate twice. False (xy then partly
// appended) when an element is not a number, as the element-wise reading reported it.
bool read_numbers(std::string_view array, std::vector<double>& xy) {
  const char* p = array.data() + 1;                         // after '['
  const char* const end = array.data() + array.size() - 1;  // at ']'
  auto skip_ws = [&] {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  };
  skip_ws();
  while (p < end) {
    if (!(*p == '-' || is_digit(*p))) return false;
    const char* const start = p;
    while (p < end &&
           (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-'))
      ++p;
    double x = 0;
    if (!parse_double(std::string_view(start, static_cast<size_t>(p - start)), x)) return false;
    xy.push_back(x);
    skip_ws();
    if (p < end) ++p;  // the ',' (validated JSON: nothing else can follow a value here)
    skip_ws();
  }
  return true;
}

// An image side: a JSON integer, or a number with an integral value (10.0, 1e3: the Python
// commands read those as ints too), from 0 to kMaxSide; -1 for anything else.
index_t parse_side(std::string_view t) {
  const index_t v = parse_count(t);
  if (v >= 0) return v <= kMaxSide ? v : -1;
  double d = 0;
  if (t.empty() || !(t.front() == '-' || is_digit(t.front())) || !parse_double(t, d)) return -1;
  if (!(d >= 0 && d <= static_cast<double>(kMaxSide)) || d != std::floor(d)) return -1;
  return static_cast<index_t>(d);
}

// The characters of a JSON string's content (quotes stripped). Compressed counts use only
// '0'..'o', whose one escaped character is the backslash; other escapes are decoded too.
void unescape(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    // The plain run up to the next escape at once: '\\' (one character in 64 of the counts
    // alphabet) is escaped often, and a byte-by-byte += cost as much as decoding the counts.
    const size_t b = std::min(s.find('\\', i), s.size());
    out.append(s.data() + i, b - i);
    i = b;
    if (i == s.size()) break;
    const char e = s[++i];
    if (e == 'u') {  // only ASCII can be compressed counts; others become '?' and fail parsing
      const unsigned long c = std::strtoul(std::string(s.substr(i + 1, 4)).c_str(), nullptr, 16);
      out += c < 0x80 ? static_cast<char>(c) : '?';
      i += 4;
    } else if (e == '\\') {
      out += '\\';  // the counts' one escape
    } else {
      const char* from = "\"\\/bfnrt";
      const char* to = "\"\\/\b\f\n\r\t";
      out += to[std::strchr(from, e) - from];
    }
  }
}

void append_int(std::string& out, index_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_escaped(std::string& out, const std::string& counts) {
  // Whole runs between backslashes at once: a byte-by-byte += costs more than the decode.
  std::string_view rest(counts);
  for (size_t b; (b = rest.find('\\')) != std::string_view::npos; rest.remove_prefix(b + 1)) {
    out.append(rest.data(), b + 1);
    out += '\\';
  }
  out.append(rest);
}

// Python's repr of a float for the values area and bbox take (to_chars gives the shortest
// round-trip digits; a float that prints as an integer gets ".0", as json and orjson write it).
void append_float(std::string& out, double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  out += s;
  if (s.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

struct Image {
  index_t h, w;
};

struct Annotation {
  Span id, image_id, segmentation, area, bbox;
  index_t close = 0;  // position of the object's closing '}'
  // Results.
  bool convert = false, polygons = false;
  std::string segmentation_text, area_text, bbox_text, error;
};

// Converts one annotation's segmentation (ann.convert true on success, ann.error otherwise).
// `only`: an SA-1B per-image file's one image, the image of annotations without an image_id.
void convert_one(const Scanner& sc, const std::unordered_map<std::string_view, Image>& images,
                 const Image* only, bool recompute, Annotation& ann) {
  const std::string_view seg = sc.text(ann.segmentation);
  if (seg == "null") return;
  if (seg.front() == '[' && sc.ws(ann.segmentation.begin + 1) < ann.segmentation.end &&
      sc.at(sc.ws(ann.segmentation.begin + 1)) == ']')
    return;  // [] : a box-only annotation, nothing to convert
  if (seg.front() != '[' && seg.front() != '{') {
    ann.error = "segmentation must be a polygon list or an RLE dict";
    return;
  }
  const Image* image = only;
  if (ann.image_id.present()) {
    const auto it = images.find(sc.text(ann.image_id));
    if (it == images.end()) {
      ann.error = concat("image_id ", sc.text(ann.image_id), " is not in images");
      return;
    }
    image = &it->second;
  } else if (image == nullptr) {
    ann.error = "has a segmentation but no image_id";
    return;
  }
  const index_t h = image->h, w = image->w;
  try {
    polygon::check_grid(h, w);  // h*w (and the rasterizer's grid) must fit in 64 bits
  } catch (const std::invalid_argument& e) {
    ann.error =
        concat("image ", ann.image_id.present() ? sc.text(ann.image_id) : "", ": ", e.what());
    return;
  }
  // Per-thread buffers: one heap allocation (or several, growing) per annotation for each of
  // these was ~4% of a conversion.
  struct CountsTag {};
  struct GivenTag {};
  struct OffsetsTag {};
  rle::Counts& counts = detail::thread_scratch<rle::Counts, CountsTag>();
  std::string& given_text = detail::thread_scratch<std::string, GivenTag>();
  counts.clear();
  const std::string* given = nullptr;  // compressed counts kept as written
  if (seg.front() == '[') {
    ann.polygons = true;
    // The polygons are read up to the first that is not a list of numbers; those before it are
    // checked first (in order, as pycocotools reads them), then that one is reported.
    struct Coordinates {};  // tag: this use's own per-thread buffer
    std::vector<double>& xy = detail::thread_scratch<std::vector<double>, Coordinates>();
    std::vector<index_t>& offsets = detail::thread_scratch<std::vector<index_t>, OffsetsTag>();
    offsets.assign(1, 0);
    xy.clear();
    index_t not_numbers = -1;
    sc.elements(ann.segmentation.begin, 1, [&](Span poly) {
      if (not_numbers >= 0) return;
      bool numbers = sc.at(poly.begin) == '[';
      if (numbers) numbers = read_numbers(sc.text(poly), xy);
      if (!numbers) {
        not_numbers = static_cast<index_t>(offsets.size() - 1);
        return;
      }
      offsets.push_back(static_cast<index_t>(xy.size()));
    });
    segmentation::Object object;
    object.h = h;
    object.w = w;
    object.poly_end = static_cast<index_t>(offsets.size() - 1);
    try {
      if (object.poly_end > 0) segmentation::check(object, xy.data(), offsets.data());
    } catch (const std::invalid_argument& e) {
      ann.error = concat("segmentation", e.what());
      return;
    }
    if (not_numbers >= 0) {
      ann.error = concat("segmentation polygon ", not_numbers, " must be a list of numbers");
      return;
    }
    segmentation::polygons_to_rle(object, xy.data(), offsets.data(), counts);
  } else {
    Span size, counts_span;
    sc.members(ann.segmentation.begin, 1, [&](Span key, Span value) {
      if (sc.key_is(key, "size")) size = value;
      if (sc.key_is(key, "counts")) counts_span = value;
    });
    if (!size.present() || !counts_span.present()) {
      ann.error = "segmentation is a dict without \"size\" and \"counts\"";
      return;
    }
    std::vector<index_t> hw;
    if (sc.at(size.begin) == '[')
      sc.elements(size.begin, 2, [&](Span v) { hw.push_back(parse_side(sc.text(v))); });
    if (hw.size() != 2 || hw[0] < 0 || hw[1] < 0) {
      ann.error = concat("segmentation size must be [height, width], got ", sc.text(size));
      return;
    }
    segmentation::Object object;
    object.h = h;
    object.w = w;
    object.is_rle = true;
    object.rle_h = hw[0];
    object.rle_w = hw[1];
    try {
      segmentation::check(object, nullptr, nullptr);
    } catch (const std::invalid_argument& e) {
      ann.error = concat("segmentation", e.what());
      return;
    }
    rle::count_t sum = 0;
    if (sc.at(counts_span.begin) == '"') {
      unescape(sc.text(Span{counts_span.begin + 1, counts_span.end - 1}), given_text);
      try {
        sum = rle::from_string(given_text.data(), static_cast<index_t>(given_text.size()), counts);
      } catch (const std::invalid_argument& e) {
        ann.error = concat("segmentation counts: ", e.what());
        return;
      }
      given = &given_text;
    } else if (sc.at(counts_span.begin) == '[') {
      bool ok = true;
      sc.elements(counts_span.begin, 2, [&](Span v) {
        const index_t c = parse_count(sc.text(v));
        if (c < 0) ok = false;  // a sum past 64 bits is caught by rle::total below
        counts.push_back(static_cast<rle::count_t>(c));
      });
      if (!ok) {
        ann.error = "segmentation counts must be non-negative integers";
        return;
      }
      try {
        sum = rle::total(counts);
      } catch (const std::invalid_argument& e) {
        ann.error = concat("segmentation counts: ", e.what());
        return;
      }
    } else {
      ann.error = "segmentation counts must be a string or a list of integers";
      return;
    }
    if (sum != static_cast<rle::count_t>(h * w)) {  // h*w checked above
      ann.error = concat("segmentation counts sum to ", sum, " but size ", h, " x ", w, " has ",
                         h * w, " pixels");
      return;
    }
  }
  if (given == nullptr) {  // the compressed string straight into a per-thread buffer
    struct StringTag {};
    std::string& text = detail::thread_scratch<std::string, StringTag>();
    text.clear();
    rle::append_string(counts.data(), static_cast<index_t>(counts.size()), text);
    given = &text;
  }
  std::string& out = ann.segmentation_text;
  out.reserve(given->size() + given->size() / 16 + 48);  // one allocation: escapes are rare
  out.assign("{\"size\":[");  // appended, not concat: an ostringstream per object was 4%
  append_int(out, h);
  out += ',';
  append_int(out, w);
  out += "],\"counts\":\"";
  append_escaped(out, *given);
  out += "\"}";
  if (recompute) {
    double box[4];
    rle::to_bbox(counts, h, w, box);
    ann.area_text.clear();
    append_float(ann.area_text, static_cast<double>(rle::area(counts)));
    ann.bbox_text = "[";
    for (int k = 0; k < 4; ++k) {
      if (k) ann.bbox_text += ',';
      append_float(ann.bbox_text, box[k]);
    }
    ann.bbox_text += ']';
  }
  ann.convert = true;
}

// A JSON integer (no fraction, no exponent) that fits 64 bits, as the ids of the regular form.
bool parse_int64(std::string_view t, std::int64_t& v) {
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return !t.empty() && ec == std::errc() && ptr == t.data() + t.size();
}

// Thrown by read_columns' scan on the first thing outside the regular form.
struct Irregular {
  std::string why;
};

}  // namespace

void check_json(const char* data, index_t len) {
  MASKPREP_CHECK(len >= 0, "len must be non-negative");
  const Scanner sc(data, len);
  const index_t end = sc.ws(sc.value_end(0));
  if (end != len) sc.fail(end, "text after the top-level value");
}

ConvertResult convert_to_rle(const char* data, index_t len, const ConvertOptions& options,
                             bool keep_going) {
  MASKPREP_CHECK(len >= 0, "len must be non-negative");
  const Scanner sc(data, len);
  if (sc.at(sc.ws(0)) != '{') check_json(data, len);  // syntax errors first, then the kind
  const char top = sc.at(sc.ws(0));
  if (top != '{')
    throw NotAnObject(top == '[' ? "the top level is an array, not an object"
                                 : "the top level is not an object");
  // One pass over the text: the annotations' members are picked out while the scanner
  // validates them (a second walk over the annotations re-read every coordinate). Checks of
  // their structure wait until the whole text is known to be JSON (syntax errors first).
  Span images_span, image_span, annotations_span;
  std::vector<Annotation> anns;
  index_t not_object = -1;  // the first annotation that is not an object
  const auto read_annotation = [&](index_t ab, int depth) {
    if (sc.at(ab) != '{') {
      if (not_object < 0) not_object = static_cast<index_t>(anns.size());
      anns.emplace_back();
      return sc.value_end(ab, depth);
    }
    Annotation ann;
    const index_t ae = sc.members(ab, depth, [&](Span key, Span value) {
      if (sc.key_is(key, "id")) ann.id = value;
      if (sc.key_is(key, "image_id")) ann.image_id = value;
      if (sc.key_is(key, "segmentation")) ann.segmentation = value;
      if (sc.key_is(key, "area")) ann.area = value;
      if (sc.key_is(key, "bbox")) ann.bbox = value;
    });
    ann.close = ae - 1;
    anns.push_back(std::move(ann));
    return ae;
  };
  index_t end = sc.scan_members(0, 0, [&](Span key, index_t vb, int depth) {
    if (sc.key_is(key, "annotations")) {  // a repeated key: the last one counts
      anns.clear();
      not_object = -1;
      const index_t e =
          sc.at(vb) == '[' ? sc.scan_elements(vb, depth, read_annotation) : sc.value_end(vb, depth);
      annotations_span = Span{vb, e};
      return e;
    }
    const index_t e = sc.value_end(vb, depth);
    if (sc.key_is(key, "images")) images_span = Span{vb, e};
    if (sc.key_is(key, "image")) image_span = Span{vb, e};
    return e;
  });
  if (sc.ws(end) != len) sc.fail(sc.ws(end), "text after the top-level object");

  // One image object: its id span ("id", else SA-1B's "image_id") and its size.
  const auto read_image = [&](Span im, const std::string& name, bool id_required) {
    MASKPREP_CHECK(sc.at(im.begin) == '{', name, " must be an object");
    Span id, image_id, h, w;
    sc.members(im.begin, 2, [&](Span key, Span value) {
      if (sc.key_is(key, "id")) id = value;
      if (sc.key_is(key, "image_id")) image_id = value;
      if (sc.key_is(key, "height")) h = value;
      if (sc.key_is(key, "width")) w = value;
    });
    if (!id.present()) id = image_id;
    const index_t hv = h.present() ? parse_side(sc.text(h)) : -1;
    const index_t wv = w.present() ? parse_side(sc.text(w)) : -1;
    MASKPREP_CHECK(!id_required || id.present(), name, " needs an id");
    MASKPREP_CHECK(hv >= 0 && wv >= 0, id.present() ? concat("image ", sc.text(id)) : name,
                   " needs non-negative integer height and width (at most ", kMaxSide, "), got ",
                   h.present() ? sc.text(h) : "none", " x ", w.present() ? sc.text(w) : "none");
    return std::make_pair(id, Image{hv, wv});
  };
  std::unordered_map<std::string_view, Image> images;
  Image single{0, 0};
  const Image* only = nullptr;  // an SA-1B per-image file: {"image": {...}, "annotations": [...]}
  if (images_span.present()) {
    MASKPREP_CHECK(sc.at(images_span.begin) == '[', "\"images\" must be an array");
    index_t k = 0;
    sc.elements(images_span.begin, 1, [&](Span im) {
      const auto [id, image] = read_image(im, concat("images[", k, "]"), true);
      images[sc.text(id)] = image;
      ++k;
    });
  } else if (image_span.present()) {
    const auto [id, image] = read_image(image_span, "\"image\"", false);
    single = image;
    only = &single;
    if (id.present()) images[sc.text(id)] = image;
  }

  ConvertResult result;
  result.images = only ? 1 : static_cast<index_t>(images.size());
  if (annotations_span.present()) {
    MASKPREP_CHECK(sc.at(annotations_span.begin) == '[', "\"annotations\" must be an array");
    MASKPREP_CHECK(not_object < 0, "annotations[", not_object, "] must be an object");
  }
  const index_t n = static_cast<index_t>(anns.size());
  result.annotations = n;
  for (index_t start = 0; start < n; start += kBatch) {
    const index_t stop = std::min(n, start + kBatch);
    // Each annotation writes only its own results; conversion errors are data, not exceptions.
    parallel_for(
        stop - start, threads_for_work(options.num_threads, stop - start, 64),
        [&](index_t i) {
          Annotation& ann = anns[static_cast<size_t>(start + i)];
          if (ann.segmentation.present()) convert_one(sc, images, only, options.recompute, ann);
        },
        16);
    if (options.progress) options.progress(stop, n);
  }
  for (const Annotation& ann : anns) {
    if (!ann.error.empty())
      result.errors.push_back({ann.id.present() ? std::string(sc.text(ann.id)) : "", ann.error});
    if (!ann.convert) continue;
    ++result.converted;
    ++(ann.polygons ? result.polygons : result.rles);
  }
  if (!result.errors.empty() && !keep_going) return result;

  // The output: the input with each converted annotation's values replaced (area and bbox
  // appended before the closing brace when the annotation has none).
  struct Edit {
    index_t begin, end;
    const std::string* text;
    const char* prefix;
  };
  std::vector<Edit> edits;
  size_t extra = 0;
  for (const Annotation& ann : anns) {
    if (!ann.convert) continue;
    const size_t first = edits.size();
    edits.push_back({ann.segmentation.begin, ann.segmentation.end, &ann.segmentation_text, ""});
    if (options.recompute) {
      if (ann.area.present()) {
        edits.push_back({ann.area.begin, ann.area.end, &ann.area_text, ""});
      } else {
        edits.push_back({ann.close, ann.close, &ann.area_text, ",\"area\":"});
      }
      if (ann.bbox.present()) {
        edits.push_back({ann.bbox.begin, ann.bbox.end, &ann.bbox_text, ""});
      } else {
        edits.push_back({ann.close, ann.close, &ann.bbox_text, ",\"bbox\":"});
      }
    }
    std::sort(edits.begin() + static_cast<std::ptrdiff_t>(first), edits.end(),
              [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    for (size_t k = first; k < edits.size(); ++k) extra += edits[k].text->size() + 8;
  }
  std::string& out = result.output;
  out.reserve(static_cast<size_t>(len) + extra);
  index_t copied = 0;
  for (const Edit& e : edits) {
    out.append(data + copied, static_cast<size_t>(e.begin - copied));
    out += e.prefix;
    out += *e.text;
    copied = e.end;
  }
  out.append(data + copied, static_cast<size_t>(len - copied));
  return result;
}

Columns read_columns(const char* data, index_t len) {
  MASKPREP_CHECK(len >= 0, "len must be non-negative");
  Columns c;
  const Scanner sc(data, len);
  const auto irregular = [](auto&&... why) { throw Irregular{concat(why...)}; };
  const auto id_of = [&](Span v, const char* name, std::int64_t& out) {
    if (!v.present() || !parse_int64(sc.text(v), out))
      irregular(name, " is not an integer: ", v.present() ? sc.text(v) : "absent");
  };
  std::vector<std::int64_t> image_ids;  // each annotation's image id, mapped after the images
  std::vector<index_t> rle_h, rle_w;    // each RLE's declared size (-1 for polygons)
  const auto read_annotation = [&](index_t ab, int depth) {
    if (sc.at(ab) != '{') irregular("an annotation is not an object");
    Span id, image_id, category_id, iscrowd;
    bool segmentation = false;
    const size_t parts_before = c.part_points.size(), xy_before = c.xy.size();
    index_t rle_begin = -1, rle_end = -1;
    const index_t ae = sc.scan_members(ab, depth, [&](Span key, index_t vb, int d) {
      if (!sc.key_is(key, "segmentation")) {
        const index_t e = sc.value_end(vb, d);
        if (sc.key_is(key, "id")) id = Span{vb, e};
        if (sc.key_is(key, "image_id")) image_id = Span{vb, e};
        if (sc.key_is(key, "category_id")) category_id = Span{vb, e};
        if (sc.key_is(key, "iscrowd")) iscrowd = Span{vb, e};
        return e;
      }
      segmentation = true;  // a repeated key: the last one counts
      c.part_points.resize(parts_before);
      c.xy.resize(xy_before);
      rle_begin = rle_end = -1;
      if (sc.at(vb) == '{') {
        rle_begin = vb;
        return rle_end = sc.value_end(vb, d);
      }
      if (sc.at(vb) != '[') irregular("a segmentation is neither polygons nor an RLE");
      return sc.scan_elements(vb, d, [&](index_t pb, int d2) {
        if (sc.at(pb) != '[') irregular("a polygon is not an array");
        const index_t e = sc.value_end(pb, d2);
        const size_t before = c.xy.size();
        if (!read_numbers(sc.text(Span{pb, e}), c.xy)) irregular("a polygon holds a non-number");
        const size_t values = c.xy.size() - before;
        if (values % 2 || values < 6) irregular("a polygon has an odd count or under 3 points");
        c.part_points.push_back(static_cast<index_t>(values / 2));
        return e;
      });
    });
    if (!segmentation) irregular("an annotation has no segmentation");
    const index_t parts = static_cast<index_t>(c.part_points.size() - parts_before);
    if (rle_begin < 0 && parts == 0) irregular("an annotation has an empty segmentation");
    index_t h = -1, w = -1;
    if (rle_begin >= 0) {
      Span size;
      sc.members(rle_begin, 0, [&](Span key, Span value) {
        if (sc.key_is(key, "size")) size = value;
      });
      std::vector<index_t> hw;
      if (size.present() && sc.at(size.begin) == '[')
        sc.elements(size.begin, 0, [&](Span v) { hw.push_back(parse_side(sc.text(v))); });
      if (hw.size() != 2 || hw[0] < 0 || hw[1] < 0) irregular("an RLE size is not [h, w]");
      h = hw[0], w = hw[1];
    }
    std::int64_t v = 0;
    id_of(id, "an annotation id", v);
    c.ann_id.push_back(v);
    id_of(image_id, "an image_id", v);
    image_ids.push_back(v);
    id_of(category_id, "a category_id", v);
    c.category_id.push_back(v);
    const std::string_view crowd = iscrowd.present() ? sc.text(iscrowd) : "0";
    if (crowd != "0" && crowd != "1" && crowd != "false" && crowd != "true" && crowd != "null")
      irregular("an iscrowd is not 0, 1, true, false or null: ", crowd);
    c.iscrowd.push_back(crowd == "1" || crowd == "true");
    c.parts.push_back(parts);
    c.rle_begin.push_back(rle_begin);
    c.rle_end.push_back(rle_end);
    rle_h.push_back(h);
    rle_w.push_back(w);
    return ae;
  };
  try {
    if (sc.at(sc.ws(0)) != '{') irregular("the top level is not an object");
    Span images_span, categories_span;
    bool annotations = false;
    const index_t end = sc.scan_members(0, 0, [&](Span key, index_t vb, int depth) {
      if (!sc.key_is(key, "annotations")) {
        const index_t e = sc.value_end(vb, depth);
        if (sc.key_is(key, "images")) images_span = Span{vb, e};
        if (sc.key_is(key, "categories")) categories_span = Span{vb, e};
        return e;
      }
      if (sc.at(vb) != '[') irregular("annotations is not an array");
      annotations = true;  // a repeated key: the last one counts
      for (auto* col : {&c.ann_id, &c.category_id, &image_ids}) col->clear();
      for (auto* col : {&c.parts, &c.part_points, &c.rle_begin, &c.rle_end, &rle_h, &rle_w})
        col->clear();
      c.iscrowd.clear();
      c.xy.clear();
      return sc.scan_elements(vb, depth, read_annotation);
    });
    if (sc.ws(end) != len) sc.fail(sc.ws(end), "text after the top-level object");
    if (!annotations || !images_span.present()) irregular("no images or no annotations");
    if (sc.at(images_span.begin) != '[') irregular("images is not an array");
    std::unordered_map<std::int64_t, index_t> index;
    sc.elements(images_span.begin, 1, [&](Span im) {
      if (sc.at(im.begin) != '{') irregular("an image is not an object");
      Span id, name, h, w;
      sc.members(im.begin, 2, [&](Span key, Span value) {
        if (sc.key_is(key, "id")) id = value;
        if (sc.key_is(key, "file_name")) name = value;
        if (sc.key_is(key, "height")) h = value;
        if (sc.key_is(key, "width")) w = value;
      });
      std::int64_t v = 0;
      id_of(id, "an image id", v);
      if (!index.emplace(v, static_cast<index_t>(c.image_id.size())).second)
        irregular("image id ", v, " repeats");
      c.image_id.push_back(v);
      const index_t hv = h.present() ? parse_side(sc.text(h)) : -1;
      const index_t wv = w.present() ? parse_side(sc.text(w)) : -1;
      if (hv < 0 || wv < 0) irregular("image ", v, " has no valid height and width");
      c.height.push_back(hv);
      c.width.push_back(wv);
      const std::string_view text = name.present() ? sc.text(name) : "";
      if (text.size() < 2 || text.front() != '"' || text.find('\\') != std::string_view::npos)
        irregular("image ", v, "'s file_name is not a string without escapes");
      c.file_name.emplace_back(text.substr(1, text.size() - 2));
    });
    c.image.reserve(image_ids.size());
    for (size_t k = 0; k < image_ids.size(); ++k) {
      const auto it = index.find(image_ids[k]);
      if (it == index.end()) irregular("image_id ", image_ids[k], " is not in images");
      const auto i = static_cast<size_t>(it->second);
      if (rle_h[k] >= 0 && (rle_h[k] != c.height[i] || rle_w[k] != c.width[i]))
        irregular("an RLE size is not its image's");
      c.image.push_back(it->second);
    }
    if (categories_span.present()) {
      c.categories_begin = categories_span.begin;
      c.categories_end = categories_span.end;
    }
  } catch (const Irregular& e) {
    Columns none;
    none.irregular = e.why;
    return none;
  } catch (const SyntaxError& e) {
    Columns none;
    none.irregular = e.what();
    return none;
  }
  return c;
}

}  // namespace maskprep::coco_json
