// Bindings for COCO RLE and polygon rasterization: Python RLE dicts, polygon lists and mask
// arrays in; RLE dicts ({'size': [h, w], 'counts': bytes}) and arrays out.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/polygon.hpp"
#include "maskprep/rle.hpp"

namespace py = pybind11;
using namespace maskprep;
using rle::Counts;

namespace {

using bind::read_polygon;
using bind::type_name;

// A non-negative integer (int or numpy integer; not bool, not float).
index_t read_index(py::handle v, const std::string& what) {
  if (PyBool_Check(v.ptr()) || PyFloat_Check(v.ptr()) || !PyIndex_Check(v.ptr()))
    throw py::type_error(what + " must be a non-negative integer, got " + type_name(v) + " " +
                         py::repr(v).cast<std::string>());
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow != 0 || x < 0)
    throw py::value_error(what + " must be a non-negative integer, got " +
                          py::repr(v).cast<std::string>());
  return static_cast<index_t>(x);
}

// RLEs read from Python. Compressed strings are parsed later, in parallel, without the GIL;
// `keep` holds a reference to every string so it outlives the GIL-free section.
struct RleInputs {
  std::string arg;
  std::vector<index_t> h, w;
  std::vector<Counts> counts;
  std::vector<const char*> str;
  std::vector<index_t> str_len;
  std::vector<py::object> keep;
  size_t size() const { return h.size(); }
};

void read_counts_list(py::handle counts, Counts& out, const std::string& what) {
  py::object seq = py::reinterpret_steal<py::object>(
      PySequence_Fast(counts.ptr(), "counts must be a list of integers"));
  if (!seq) throw py::error_already_set();
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  out.resize(static_cast<size_t>(n));
  for (Py_ssize_t j = 0; j < n; ++j) {
    PyObject* v = items[j];
    if (PyLong_CheckExact(v)) {  // fast path for the common case
      int overflow = 0;
      const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (overflow == 0 && x >= 0) {
        out[static_cast<size_t>(j)] = static_cast<rle::count_t>(x);
        continue;
      }
    }
    if (PyFloat_Check(v) && !PyIndex_Check(v))
      throw py::value_error(what + "['counts'][" + std::to_string(j) +
                            "] must be a non-negative integer, got " +
                            py::repr(v).cast<std::string>());
    out[static_cast<size_t>(j)] = static_cast<rle::count_t>(
        read_index(v, what + "['counts'][" + std::to_string(j) + "]"));
  }
}

// Interned dict keys: RLE batches are read in a tight loop, where building key strings or going
// through pybind11's generic accessors costs more than parsing the counts.
PyObject* key(const char* name) {
  PyObject* k = PyUnicode_InternFromString(name);
  if (!k) throw py::error_already_set();
  return k;  // intentionally immortal
}

index_t read_size_value(PyObject* v, const std::string& what) {
  if (PyLong_CheckExact(v)) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0 && x >= 0) return static_cast<index_t>(x);
  }
  return read_index(v, what);
}

void read_rle(py::handle obj, RleInputs& in, size_t i) {
  static PyObject* const kSize = key("size");
  static PyObject* const kCounts = key("counts");
  auto what = [&] { return in.arg + "[" + std::to_string(i) + "]"; };
  if (!PyDict_Check(obj.ptr()))
    throw py::type_error(what() + " must be an RLE dict {'size': [h, w], 'counts': ...}, got " +
                         type_name(obj));
  PyObject* size = PyDict_GetItemWithError(obj.ptr(), kSize);      // borrowed
  PyObject* counts = PyDict_GetItemWithError(obj.ptr(), kCounts);  // borrowed
  if (PyErr_Occurred()) throw py::error_already_set();
  if (!size || !counts) throw py::value_error(what() + " must have the keys 'size' and 'counts'");
  if (!(PyList_Check(size) || PyTuple_Check(size)) || PySequence_Fast_GET_SIZE(size) != 2)
    throw py::value_error(what() + "['size'] must be [height, width], got " +
                          py::repr(size).cast<std::string>());
  PyObject** hw = PySequence_Fast_ITEMS(size);
  in.h[i] = read_size_value(hw[0], what() + "['size'][0]");
  in.w[i] = read_size_value(hw[1], what() + "['size'][1]");
  if (PyBytes_Check(counts)) {
    in.str[i] = PyBytes_AS_STRING(counts);
    in.str_len[i] = static_cast<index_t>(PyBytes_GET_SIZE(counts));
    in.keep.push_back(py::reinterpret_borrow<py::object>(counts));
  } else if (PyUnicode_Check(counts)) {
    Py_ssize_t len = 0;
    const char* s = PyUnicode_AsUTF8AndSize(counts, &len);
    if (!s) throw py::error_already_set();
    in.str[i] = s;
    in.str_len[i] = static_cast<index_t>(len);
    in.keep.push_back(py::reinterpret_borrow<py::object>(counts));
  } else if (PyList_Check(counts) || PyTuple_Check(counts) ||
             py::isinstance<py::array>(counts)) {
    read_counts_list(counts, in.counts[i], what());
  } else {
    throw py::type_error(what() + "['counts'] must be bytes or str (compressed) or a list of "
                                  "integers (uncompressed), got " + type_name(counts));
  }
}

RleInputs read_rles(py::handle objs, const char* arg) {
  RleInputs in;
  in.arg = arg;
  if (!PyList_Check(objs.ptr()) && !PyTuple_Check(objs.ptr()))
    throw py::type_error(std::string(arg) + " must be a list of RLE dicts, got " + type_name(objs));
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(objs.ptr()));
  PyObject** items = PySequence_Fast_ITEMS(objs.ptr());
  in.h.resize(n);
  in.w.resize(n);
  in.counts.resize(n);
  in.str.assign(n, nullptr);
  in.str_len.assign(n, 0);
  in.keep.reserve(n);
  for (size_t i = 0; i < n; ++i) read_rle(items[i], in, i);
  return in;
}

// Parses the compressed strings and checks every RLE sums to h*w. Runs without the GIL.
void parse_rles(RleInputs& in, int num_threads) {
  const index_t n = static_cast<index_t>(in.size());
  index_t work = 0;  // characters and counts to read
  for (index_t i = 0; i < n; ++i) work += in.str_len[i] + static_cast<index_t>(in.counts[i].size());
  parallel_for(n, threads_for_work(num_threads, work, 1 << 17), [&](index_t i) {
    try {
      const rle::count_t sum = in.str[i] ? rle::from_string(in.str[i], in.str_len[i], in.counts[i])
                                         : rle::total(in.counts[i]);
      const auto expected =
          static_cast<rle::count_t>(detail::checked_size("size h*w", in.h[i], in.w[i]));
      MASKPREP_CHECK(sum == expected, "counts sum to ", sum, ", expected h*w = ", expected,
                     " for size [", in.h[i], ", ", in.w[i], "]");
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(detail::concat(in.arg, "[", i, "]: ", e.what()));
    }
  }, 16);
}

RleInputs load_rles(py::handle objs, const char* arg, int num_threads) {
  RleInputs in = read_rles(objs, arg);
  py::gil_scoped_release release;  // parses owned buffers; `keep` pins the Python strings
  parse_rles(in, num_threads);
  return in;
}

std::vector<const Counts*> pointers(const std::vector<Counts>& v) {
  std::vector<const Counts*> p;
  p.reserve(v.size());
  for (const auto& c : v) p.push_back(&c);
  return p;
}

// Every RLE of the batch must have one size; returns it.
std::pair<index_t, index_t> common_size(const RleInputs& in) {
  for (size_t i = 1; i < in.size(); ++i) {
    if (in.h[i] != in.h[0] || in.w[i] != in.w[0])
      throw py::value_error(in.arg + "[" + std::to_string(i) + "] has size [" +
                            std::to_string(in.h[i]) + ", " + std::to_string(in.w[i]) +
                            "] but " + in.arg + "[0] has size [" + std::to_string(in.h[0]) +
                            ", " + std::to_string(in.w[0]) + "]: all must match");
  }
  return {in.h.empty() ? 0 : in.h[0], in.w.empty() ? 0 : in.w[0]};
}

// ---- encode -------------------------------------------------------------------------------------

py::list encode(py::array masks, const std::string& layout, bool compressed,
                py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (layout != "hwn" && layout != "nhw")
    throw py::value_error("layout must be 'hwn' (H x W x N, pycocotools) or 'nhw' (N x H x W), got '" +
                          layout + "'");
  bind::check_array(masks, bind::is_byte_mask(masks), masks.ndim() == 2 || masks.ndim() == 3,
                    "masks",
                    layout == "hwn" ? "an (H, W) or (H, W, N) bool or uint8 array"
                                    : "an (H, W) or (N, H, W) bool or uint8 array");
  const bool fortran = (masks.flags() & py::array::f_style) != 0;
  const bool c_order = (masks.flags() & py::array::c_style) != 0;
  index_t h, w, n;
  rle::Layout kind;
  py::array data = masks;
  if (masks.ndim() == 2) {
    h = masks.shape(0), w = masks.shape(1), n = 1;
    kind = fortran ? rle::Layout::kColumnMajor : rle::Layout::kRowMajor;
    if (!fortran && !c_order) data = py::array::ensure(masks, py::array::c_style);
  } else if (layout == "hwn") {
    h = masks.shape(0), w = masks.shape(1), n = masks.shape(2);
    kind = c_order && !fortran ? rle::Layout::kInterleaved : rle::Layout::kColumnMajor;
    if (!fortran && !c_order) data = py::array::ensure(masks, py::array::f_style);
  } else {
    n = masks.shape(0), h = masks.shape(1), w = masks.shape(2);
    kind = rle::Layout::kRowMajor;
    if (!c_order) data = py::array::ensure(masks, py::array::c_style);
  }
  if (!data) throw py::error_already_set();
  const auto* ptr = static_cast<const byte_t*>(data.data());
  std::vector<Counts> counts;
  std::vector<std::string> strings;
  {
    py::gil_scoped_release release;  // `data` is pinned by this frame; outputs are C++-owned
    rle::encode(ptr, h, w, n, kind, counts, nt);
    if (compressed) strings = bind::to_strings(counts, nt);
  }
  return bind::make_rles(counts, compressed ? &strings : nullptr, h, w, compressed);
}

// ---- decode -------------------------------------------------------------------------------------

py::array decode(py::handle rles, const std::string& layout, py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (layout != "hwn" && layout != "nhw")
    throw py::value_error("layout must be 'hwn' or 'nhw', got '" + layout + "'");
  RleInputs in = load_rles(rles, "rles", nt);
  if (in.size() == 0) throw py::value_error("rles must not be empty: the mask size is unknown");
  const auto [h, w] = common_size(in);
  const index_t n = static_cast<index_t>(in.size());
  detail::checked_size("decoded masks n*h*w", n, h, w);  // before allocating them
  py::array_t<std::uint8_t> out;
  if (layout == "hwn") {
    out = py::array_t<std::uint8_t, py::array::f_style>({h, w, n});
  } else {
    out = py::array_t<std::uint8_t, py::array::c_style>({n, h, w});
  }
  auto* ptr = out.mutable_data();
  const auto ptrs = pointers(in.counts);
  {
    py::gil_scoped_release release;  // writes only into `out`, which this frame owns
    rle::decode(ptrs, h, w, layout == "hwn" ? rle::Layout::kColumnMajor : rle::Layout::kRowMajor,
                ptr, nt);
  }
  return std::move(out);
}

// ---- measures -----------------------------------------------------------------------------------

py::array_t<std::uint64_t> area(py::handle rles, py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  RleInputs in = load_rles(rles, "rles", nt);
  py::array_t<std::uint64_t> out(static_cast<py::ssize_t>(in.size()));
  auto* o = out.mutable_data();
  for (size_t i = 0; i < in.size(); ++i) o[i] = rle::area(in.counts[i]);
  return out;
}

py::array_t<double> to_bbox(py::handle rles, py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  RleInputs in = load_rles(rles, "rles", nt);
  py::array_t<double> out({static_cast<py::ssize_t>(in.size()), py::ssize_t{4}});
  auto* o = out.mutable_data();
  for (size_t i = 0; i < in.size(); ++i) rle::to_bbox(in.counts[i], in.h[i], in.w[i], o + 4 * i);
  return out;
}

std::vector<byte_t> read_iscrowd(py::handle iscrowd, size_t n) {
  std::vector<byte_t> crowd(n, 0);
  if (iscrowd.is_none()) return crowd;
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> a =
      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(iscrowd);
  if (!a || a.ndim() != 1 || static_cast<size_t>(a.shape(0)) != n)
    throw py::value_error("iscrowd must be a sequence of " + std::to_string(n) +
                          " values (one per gt), got " + py::repr(iscrowd).cast<std::string>());
  for (size_t g = 0; g < n; ++g) crowd[g] = a.data()[g] != 0;
  return crowd;
}

py::array_t<double> rle_iou(py::handle dt, py::handle gt, py::handle iscrowd,
                            py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  RleInputs d = load_rles(dt, "dt", nt), g = load_rles(gt, "gt", nt);
  const auto crowd = read_iscrowd(iscrowd, g.size());
  const auto [h, w] = common_size(d);
  const auto [gh, gw] = common_size(g);
  if (d.size() && g.size() && (gh != h || gw != w))
    throw py::value_error("dt masks are " + std::to_string(h) + " x " + std::to_string(w) +
                          " but gt masks are " + std::to_string(gh) + " x " + std::to_string(gw));
  py::array_t<double> out({static_cast<py::ssize_t>(d.size()), static_cast<py::ssize_t>(g.size())});
  auto* o = out.mutable_data();
  const auto dp = pointers(d.counts), gp = pointers(g.counts);
  {
    py::gil_scoped_release release;  // C++-owned inputs, `out` owned by this frame
    rle::iou(dp, gp, h, w, crowd.data(), o, nt);
  }
  return out;
}

using Boxes = py::array_t<double, py::array::c_style | py::array::forcecast>;

// (N, 4) real boxes as float64.
Boxes checked_boxes(const py::array& b, const char* arg) {
  bind::check_array(b, bind::is_real(b), b.ndim() == 2 && b.shape(1) == 4, arg,
                    "an (N, 4) array of [x, y, w, h] boxes (real numbers)");
  return Boxes::ensure(b);
}

py::array_t<double> bbox_iou(const py::array& dt_in, const py::array& gt_in, py::handle iscrowd,
                             py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  const Boxes dt = checked_boxes(dt_in, "dt");
  const Boxes gt = checked_boxes(gt_in, "gt");
  const auto crowd = read_iscrowd(iscrowd, static_cast<size_t>(gt.shape(0)));
  py::array_t<double> out({dt.shape(0), gt.shape(0)});
  auto* o = out.mutable_data();
  {
    py::gil_scoped_release release;  // numpy buffers pinned by this frame
    rle::bbox_iou(dt.data(), dt.shape(0), gt.data(), gt.shape(0), crowd.data(), o, nt);
  }
  return out;
}

py::dict merge(py::handle rles, bool intersect) {
  RleInputs in = load_rles(rles, "rles", 1);
  if (in.size() == 0) return bind::make_rle(0, 0, py::bytes(""));  // pycocotools' result for []
  const auto [h, w] = common_size(in);
  Counts out;
  rle::merge(pointers(in.counts), intersect, out);
  return bind::make_rle(h, w, py::bytes(rle::to_string(out)));
}

// Many independent merges in one call: groups[i] is a list of RLEs of one size. The groups are
// read with the GIL, then parsed, merged and compressed in parallel.
py::list merge_groups(py::handle groups, bool intersect, py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (!PyList_Check(groups.ptr()) && !PyTuple_Check(groups.ptr()))
    throw py::type_error("groups must be a list of lists of RLE dicts, got " + type_name(groups));
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(groups.ptr()));
  PyObject** items = PySequence_Fast_ITEMS(groups.ptr());
  std::vector<RleInputs> in(n);
  for (size_t i = 0; i < n; ++i)
    in[i] = read_rles(items[i], ("groups[" + std::to_string(i) + "]").c_str());
  std::vector<std::pair<index_t, index_t>> sizes(n);
  std::vector<Counts> out(n);
  std::vector<std::string> strings(n);
  {
    py::gil_scoped_release release;  // only C++ buffers below; `keep` pins the Python strings
    index_t work = 0;
    for (const auto& g : in) work += static_cast<index_t>(g.size());
    // ~3 us per RLE: 32 RLEs per thread repay waking one
    parallel_for(static_cast<index_t>(n), threads_for_work(nt, work, 32), [&](index_t i) {
      RleInputs& g = in[static_cast<size_t>(i)];
      parse_rles(g, 1);
      if (g.size() == 0) return;  // pycocotools' merge([]) is the empty {'size': [0, 0]}
      sizes[static_cast<size_t>(i)] = common_size(g);
      rle::merge(pointers(g.counts), intersect, out[static_cast<size_t>(i)]);
      strings[static_cast<size_t>(i)] = rle::to_string(out[static_cast<size_t>(i)]);
    }, 4);
  }
  py::list result(n);
  for (size_t i = 0; i < n; ++i)
    result[i] = bind::make_rle(sizes[i].first, sizes[i].second, py::bytes(strings[i]));
  return result;
}

// ---- polygons and boxes -------------------------------------------------------------------------

void check_size(index_t h, index_t w) {
  if (h < 0 || w < 0)
    throw py::value_error("h and w must be non-negative, got h=" + std::to_string(h) +
                          ", w=" + std::to_string(w));
  polygon::check_grid(h, w);
}

py::list from_bbox(const py::array& boxes_in, index_t h, index_t w, bool compressed) {
  check_size(h, w);
  const Boxes boxes = checked_boxes(boxes_in, "boxes");
  const index_t n = boxes.shape(0);
  // Copied first: the caller's array may change while the GIL is released below.
  const std::vector<double> b(boxes.data(), boxes.data() + 4 * n);
  for (index_t i = 0; i < n * 4; ++i) {
    const double v = b[static_cast<size_t>(i)];
    if (!std::isfinite(v) || std::fabs(v) > polygon::kMaxCoordinate)
      throw py::value_error("boxes[" + std::to_string(i / 4) + "] has a non-finite or out-of-range value (|v| must be <= 2e8)");
  }
  std::vector<Counts> counts(static_cast<size_t>(n));
  {
    py::gil_scoped_release release;  // reads only the copy `b`
    for (index_t i = 0; i < n; ++i) polygon::box_to_rle(b.data() + 4 * i, h, w, counts[i]);
  }
  return bind::make_rles(counts, nullptr, h, w, compressed);
}

py::list from_polygons(py::handle polys, index_t h, index_t w, bool compressed,
                       index_t min_points) {
  check_size(h, w);
  if (!PyList_Check(polys.ptr()) && !PyTuple_Check(polys.ptr()))
    throw py::type_error("polygons must be a list of polygons [[x0, y0, x1, y1, ...], ...], got " +
                         type_name(polys));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(polys);
  std::vector<Counts> counts(seq.size());
  std::vector<double> xy;
  for (size_t i = 0; i < seq.size(); ++i) {
    const std::string what = "polygons[" + std::to_string(i) + "]";
    xy.clear();
    read_polygon(seq[i], xy, [&] { return what; });
    const std::string problem =
        polygon::check(xy.data(), static_cast<index_t>(xy.size()), min_points);
    if (!problem.empty()) throw py::value_error(what + " " + problem);
    polygon::to_rle(xy.data(), static_cast<index_t>(xy.size() / 2), h, w, counts[i]);
  }
  return bind::make_rles(counts, nullptr, h, w, compressed);
}

// A COCO `segmentation` per annotation -> one compressed RLE dict each (pycocotools' annToRLE).
// str_counts: counts as str (what JSON files hold) instead of bytes (what pycocotools returns).
py::list from_segmentations(py::handle segs_obj, std::vector<index_t> heights,
                            std::vector<index_t> widths, bool str_counts,
                            py::object num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (!PyList_Check(segs_obj.ptr()) && !PyTuple_Check(segs_obj.ptr()))
    throw py::type_error("segmentations must be a list, got " + type_name(segs_obj));
  py::sequence segs = py::reinterpret_borrow<py::sequence>(segs_obj);
  const size_t n = segs.size();
  if (heights.size() != n || widths.size() != n)
    throw py::value_error("heights and widths must have one entry per segmentation (" +
                          std::to_string(n) + "), got " + std::to_string(heights.size()) +
                          " and " + std::to_string(widths.size()));
  // Polygon objects are flattened into one coordinate buffer; RLE dicts go to `rles`.
  std::vector<double> xy;
  std::vector<index_t> poly_offsets{0}, obj_offsets{0}, poly_objects;
  std::vector<index_t> poly_h, poly_w;
  RleInputs rles;
  rles.arg = "segmentations";
  std::vector<index_t> rle_objects;
  std::vector<int> kind(n);  // 0 polygons, 1 uncompressed RLE, 2 compressed RLE
  std::vector<py::object> original_counts(n);
  for (size_t i = 0; i < n; ++i) {
    py::handle s = segs[i];
    auto what = [i] { return "segmentations[" + std::to_string(i) + "]"; };
    if (PyList_Check(s.ptr()) || PyTuple_Check(s.ptr())) {
      py::sequence polys = py::reinterpret_borrow<py::sequence>(s);
      if (polys.size() == 0) throw py::value_error(what() + " is an empty polygon list");
      for (size_t p = 0; p < polys.size(); ++p) {
        read_polygon(polys[p], xy, [&] { return what() + "[" + std::to_string(p) + "]"; });
        poly_offsets.push_back(static_cast<index_t>(xy.size()));
      }
      obj_offsets.push_back(static_cast<index_t>(poly_offsets.size() - 1));
      poly_objects.push_back(static_cast<index_t>(i));
      poly_h.push_back(heights[i]);
      poly_w.push_back(widths[i]);
      kind[i] = 0;
    } else if (PyDict_Check(s.ptr())) {
      const size_t r = rles.size();
      rles.h.push_back(0);
      rles.w.push_back(0);
      rles.counts.emplace_back();
      rles.str.push_back(nullptr);
      rles.str_len.push_back(0);
      read_rle(s, rles, r);
      if (rles.h[r] != heights[i] || rles.w[r] != widths[i])
        throw py::value_error(what() + " has size [" + std::to_string(rles.h[r]) + ", " +
                              std::to_string(rles.w[r]) + "] but its image is " +
                              std::to_string(heights[i]) + " x " + std::to_string(widths[i]));
      kind[i] = rles.str[r] ? 2 : 1;
      if (kind[i] == 2) original_counts[i] = py::reinterpret_borrow<py::dict>(s)["counts"];
      rle_objects.push_back(static_cast<index_t>(i));
    } else {
      throw py::type_error(what() + " must be a polygon list or an RLE dict, got " + type_name(s));
    }
  }
  std::vector<Counts> poly_counts;
  std::vector<std::string> poly_strings, rle_strings(rles.size());
  {
    py::gil_scoped_release release;  // all inputs copied into C++ buffers or pinned by `keep`
    try {
      polygon::objects_to_rle(xy.data(), poly_offsets.data(), obj_offsets.data(),
                              static_cast<index_t>(poly_objects.size()), poly_h.data(),
                              poly_w.data(), poly_counts, nt);
    } catch (const std::invalid_argument& e) {
      // Name the caller's index, not the position among polygon objects.
      std::string msg = e.what();
      const std::string prefix = "segmentation ";
      if (msg.rfind(prefix, 0) == 0) {
        const size_t end = msg.find(' ', prefix.size());
        const index_t k = std::stoll(msg.substr(prefix.size(), end - prefix.size()));
        msg = "segmentations[" + std::to_string(poly_objects[static_cast<size_t>(k)]) + "]" +
              msg.substr(end);
      }
      throw std::invalid_argument(msg);
    }
    poly_strings = bind::to_strings(poly_counts, nt);
    parse_rles(rles, nt);
    const index_t nr = static_cast<index_t>(rles.size());
    parallel_for(nr, threads_for_work(nt, nr, 64), [&](index_t r) {
      if (!rles.str[r]) rle_strings[r] = rle::to_string(rles.counts[r]);
    });
  }
  auto counts = [&](const std::string& s) -> py::object {
    if (str_counts) return py::reinterpret_steal<py::object>(
        PyUnicode_DecodeASCII(s.data(), static_cast<py::ssize_t>(s.size()), nullptr));
    return py::bytes(s);
  };
  py::list out(n);
  for (size_t k = 0; k < poly_objects.size(); ++k) {
    const size_t i = static_cast<size_t>(poly_objects[k]);
    out[i] = bind::make_rle(heights[i], widths[i], counts(poly_strings[k]));
  }
  for (size_t r = 0; r < rle_objects.size(); ++r) {
    const size_t i = static_cast<size_t>(rle_objects[r]);
    py::object c;
    if (kind[i] != 2) {
      c = counts(rle_strings[r]);
    } else if (str_counts && !PyUnicode_Check(original_counts[i].ptr())) {
      c = counts(std::string(rles.str[r], static_cast<size_t>(rles.str_len[r])));
    } else {
      c = original_counts[i];  // as given (pycocotools' annToRLE returns it untouched)
    }
    out[i] = bind::make_rle(heights[i], widths[i], c);
  }
  return out;
}

// ---- strings ------------------------------------------------------------------------------------

py::bytes counts_to_string(const py::array& counts) {
  constexpr const char* expected = "a 1-D array of non-negative integers";
  bind::check_array(counts, bind::is_integer(counts), counts.ndim() == 1, "counts", expected);
  if (counts.dtype().kind() == 'i') {  // a negative count would wrap in the cast to uint64
    using int64_array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
    const auto signed_counts = int64_array::ensure(counts);
    for (py::ssize_t j = 0; j < signed_counts.shape(0); ++j)
      if (signed_counts.data()[j] < 0)
        throw py::value_error("counts[" + std::to_string(j) + "] must be >= 0, got " +
                              std::to_string(signed_counts.data()[j]));
  }
  const auto c =
      py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(counts);
  std::string s;
  rle::append_string(c.data(), c.shape(0), s);
  return py::bytes(s);
}

py::array_t<std::uint64_t> string_to_counts(py::handle s) {
  const char* p;
  Py_ssize_t len;
  if (PyBytes_Check(s.ptr())) {
    p = PyBytes_AS_STRING(s.ptr());
    len = PyBytes_GET_SIZE(s.ptr());
  } else if (PyUnicode_Check(s.ptr())) {
    p = PyUnicode_AsUTF8AndSize(s.ptr(), &len);
    if (!p) throw py::error_already_set();
  } else {
    throw py::type_error("s must be bytes or str, got " + type_name(s));
  }
  Counts counts;
  bool sum_overflows = false;  // counts alone: any 64-bit counts that to_string writes read back
  rle::from_string(p, static_cast<index_t>(len), counts, &sum_overflows);
  py::array_t<std::uint64_t> out(static_cast<py::ssize_t>(counts.size()));
  std::copy(counts.begin(), counts.end(), out.mutable_data());
  return out;
}

}  // namespace

void bind_rle(py::module_& m) {
  const auto nt = py::arg("num_threads") = py::none();
  m.def("rle_encode", &encode, py::arg("masks"), py::arg("layout"), py::arg("compressed"), nt);
  m.def("rle_decode", &decode, py::arg("rles"), py::arg("layout"), nt);
  m.def("rle_area", &area, py::arg("rles"), nt);
  m.def("rle_to_bbox", &to_bbox, py::arg("rles"), nt);
  m.def("rle_iou", &rle_iou, py::arg("dt"), py::arg("gt"), py::arg("iscrowd"), nt);
  m.def("bbox_iou", &bbox_iou, py::arg("dt"), py::arg("gt"), py::arg("iscrowd"), nt);
  m.def("rle_merge", &merge, py::arg("rles"), py::arg("intersect"));
  m.def("rle_merge_groups", &merge_groups, py::arg("groups"), py::arg("intersect"), nt);
  m.def("rle_from_bbox", &from_bbox, py::arg("boxes"), py::arg("h"), py::arg("w"),
        py::arg("compressed"));
  m.def("rle_from_polygons", &from_polygons, py::arg("polygons"), py::arg("h"), py::arg("w"),
        py::arg("compressed"), py::arg("min_points") = 3);
  m.def("rle_from_segmentations", &from_segmentations, py::arg("segmentations"),
        py::arg("heights"), py::arg("widths"), py::arg("str_counts"), nt);
  m.def("rle_counts_to_string", &counts_to_string, py::arg("counts"));
  m.def("rle_string_to_counts", &string_to_counts, py::arg("s"));
}
