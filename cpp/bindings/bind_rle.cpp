// Bindings for the COCO RLE codec, measures and merge (rle.hpp): lists of RLE dicts and mask
// arrays in, RLE dicts ({'size': [h, w], 'counts': bytes}) and arrays out. Reading and building
// the dicts lives in rle_objects.hpp; polygons and boxes in bind_polygon.cpp.
#include <pybind11/stl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/rle.hpp"
#include "rle_objects.hpp"

namespace py = pybind11;
using namespace maskprep;
using bind::common_size;
using bind::load_rles;
using bind::pointers;
using bind::RleInputs;
using bind::type_name;
using rle::Counts;

namespace {

// ---- encode -------------------------------------------------------------------------------------

py::list encode(py::array masks, const std::string& layout, bool compressed,
                const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (layout != "hwn" && layout != "nhw")
    throw py::value_error(
        "layout must be 'hwn' (H x W x N, pycocotools) or 'nhw' (N x H x W), got '" + layout + "'");
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
    if (compressed) {
      strings.resize(counts.size());
      rle::to_strings(counts.data(), n, strings.data(), nt);
    }
  }
  return bind::make_rles(counts, compressed ? &strings : nullptr, h, w, compressed);
}

// ---- decode -------------------------------------------------------------------------------------

py::array decode(py::handle rles, const std::string& layout, const py::object& num_threads) {
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

py::array_t<std::uint64_t> area(py::handle rles, const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  RleInputs in = bind::read_rles(rles, "rles");
  const index_t n = static_cast<index_t>(in.size());
  py::array_t<std::uint64_t> out(static_cast<py::ssize_t>(n));
  auto* o = out.mutable_data();
  try {
    py::gil_scoped_release release;  // `keep` pins the strings, `out` is owned by this frame
    rle::area(in.str.data(), in.str_len.data(), in.h.data(), in.w.data(), in.counts.data(), n, o,
              nt);
  } catch (const IndexedError& e) {
    bind::raise_indexed(false, in.arg, e.index(), e.message());
  }
  return out;
}

py::array_t<double> to_bbox(py::handle rles, const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  RleInputs in = bind::read_rles(rles, "rles");
  const index_t n = static_cast<index_t>(in.size());
  py::array_t<double> out({static_cast<py::ssize_t>(n), py::ssize_t{4}});
  auto* o = out.mutable_data();
  try {
    py::gil_scoped_release release;  // `keep` pins the strings, `out` is owned by this frame
    rle::to_bbox(in.str.data(), in.str_len.data(), in.h.data(), in.w.data(), in.counts.data(), n, o,
                 nt);
  } catch (const IndexedError& e) {
    bind::raise_indexed(false, in.arg, e.index(), e.message());
  }
  return out;
}

std::vector<byte_t> read_iscrowd(py::handle iscrowd, size_t n) {
  std::vector<byte_t> crowd(n, 0);
  if (iscrowd.is_none()) return crowd;
  const auto a = bind::carray<std::int64_t>::ensure(iscrowd);
  if (!a || a.ndim() != 1 || static_cast<size_t>(a.shape(0)) != n)
    throw py::value_error("iscrowd must be a sequence of " + std::to_string(n) +
                          " values (one per gt), got " + py::repr(iscrowd).cast<std::string>());
  for (size_t g = 0; g < n; ++g) crowd[g] = a.data()[g] != 0;
  return crowd;
}

py::array_t<double> rle_iou(py::handle dt, py::handle gt, py::handle iscrowd,
                            const py::object& num_threads) {
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

using Boxes = bind::carray<double>;

// (N, 4) real boxes as float64.
Boxes checked_boxes(const py::array& b, const char* arg) {
  bind::check_array(b, bind::is_real(b), b.ndim() == 2 && b.shape(1) == 4, arg,
                    "an (N, 4) array of [x, y, w, h] boxes (real numbers)");
  return Boxes::ensure(b);
}

py::array_t<double> bbox_iou(const py::array& dt_in, const py::array& gt_in, py::handle iscrowd,
                             const py::object& num_threads) {
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

// ---- merge --------------------------------------------------------------------------------------

py::dict merge(py::handle rles, bool intersect) {
  RleInputs in = load_rles(rles, "rles", 1);
  if (in.size() == 0) return bind::make_rle(0, 0, py::bytes(""));  // pycocotools' result for []
  const auto [h, w] = common_size(in);
  Counts out;
  rle::merge(pointers(in.counts), intersect, out);
  return bind::make_rle(h, w, py::bytes(rle::to_string(out)));
}

// Many independent merges in one call: groups[i] is a list of RLEs of one size. The groups are
// read with the GIL into one flat batch, then parsed, merged and compressed by one kernel.
py::list merge_groups(py::handle groups, bool intersect, const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (!PyList_Check(groups.ptr()) && !PyTuple_Check(groups.ptr()))
    throw py::type_error("groups must be a list of lists of RLE dicts, got " + type_name(groups));
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(groups.ptr()));
  PyObject** items = PySequence_Fast_ITEMS(groups.ptr());
  RleInputs all;  // every group's RLEs, group g at [offsets[g], offsets[g+1])
  all.arg = "groups";
  std::vector<index_t> offsets{0};
  offsets.reserve(n + 1);
  std::vector<std::pair<index_t, index_t>> sizes(n);
  for (size_t g = 0; g < n; ++g) {
    RleInputs group = bind::read_rles(items[g], ("groups[" + std::to_string(g) + "]").c_str());
    sizes[g] = common_size(group);
    all.h.insert(all.h.end(), group.h.begin(), group.h.end());
    all.w.insert(all.w.end(), group.w.begin(), group.w.end());
    all.str.insert(all.str.end(), group.str.begin(), group.str.end());
    all.str_len.insert(all.str_len.end(), group.str_len.begin(), group.str_len.end());
    for (auto& c : group.counts) all.counts.push_back(std::move(c));
    for (auto& k : group.keep) all.keep.push_back(std::move(k));
    offsets.push_back(static_cast<index_t>(all.size()));
  }
  std::vector<std::string> strings(n);
  // An error names groups[g][j]: the flat index k is mapped back to its group.
  auto group_of = [&](index_t k) {
    return static_cast<size_t>(std::upper_bound(offsets.begin(), offsets.end(), k) -
                               offsets.begin() - 1);
  };
  try {
    py::gil_scoped_release release;  // only C++ buffers below; `keep` pins the Python strings
    rle::merge_groups(all.str.data(), all.str_len.data(), all.h.data(), all.w.data(),
                      all.counts.data(), offsets.data(), static_cast<index_t>(n), intersect,
                      strings.data(), nt);
  } catch (const IndexedError& e) {
    const size_t g = group_of(e.index());
    bind::raise_indexed(false, "groups[" + std::to_string(g) + "]", e.index() - offsets[g],
                        e.message());
  }
  py::list result(n);
  for (size_t g = 0; g < n; ++g)
    result[g] = bind::make_rle(sizes[g].first, sizes[g].second, py::bytes(strings[g]));
  return result;
}

// ---- strings ------------------------------------------------------------------------------------

py::bytes counts_to_string(const py::array& counts) {
  constexpr const char* expected = "a 1-D array of non-negative integers";
  bind::check_array(counts, bind::is_integer(counts), counts.ndim() == 1, "counts", expected);
  if (counts.dtype().kind() == 'i') {  // a negative count would wrap in the cast to uint64
    const auto signed_counts = bind::carray<std::int64_t>::ensure(counts);
    for (py::ssize_t j = 0; j < signed_counts.shape(0); ++j)
      if (signed_counts.data()[j] < 0)
        throw py::value_error("counts[" + std::to_string(j) + "] must be >= 0, got " +
                              std::to_string(signed_counts.data()[j]));
  }
  const auto c = bind::carray<std::uint64_t>::ensure(counts);
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
  m.def("rle_encode", &encode, py::arg("masks"), py::arg("layout"), py::arg("compressed"),
        py::kw_only(), nt);
  m.def("rle_decode", &decode, py::arg("rles"), py::arg("layout"), py::kw_only(), nt);
  m.def("rle_area", &area, py::arg("rles"), py::kw_only(), nt);
  m.def("rle_to_bbox", &to_bbox, py::arg("rles"), py::kw_only(), nt);
  m.def("rle_iou", &rle_iou, py::arg("dt"), py::arg("gt"), py::arg("iscrowd"), py::kw_only(), nt);
  m.def("bbox_iou", &bbox_iou, py::arg("dt"), py::arg("gt"), py::arg("iscrowd"), py::kw_only(), nt);
  m.def("rle_merge", &merge, py::arg("rles"), py::arg("intersect"));
  m.def("rle_merge_groups", &merge_groups, py::arg("groups"), py::arg("intersect"), py::kw_only(),
        nt);
  m.def("rle_counts_to_string", &counts_to_string, py::arg("counts"));
  m.def("rle_string_to_counts", &string_to_counts, py::arg("s"));
}
