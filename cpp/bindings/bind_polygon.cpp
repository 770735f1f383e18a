// Bindings for polygons, boxes and COCO segmentations to RLE (polygon.hpp, segmentation.hpp):
// Python polygon lists, box arrays and segmentations in, RLE dicts out.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bind_util.hpp"
#include "maskprep/polygon.hpp"
#include "maskprep/rle.hpp"
#include "maskprep/segmentation.hpp"
#include "rle_objects.hpp"

namespace py = pybind11;
using namespace maskprep;
using bind::read_polygon;
using bind::type_name;
using rle::Counts;

namespace {

void check_size(index_t h, index_t w) {
  if (h < 0 || w < 0)
    throw py::value_error("h and w must be non-negative, got h=" + std::to_string(h) +
                          ", w=" + std::to_string(w));
  polygon::check_grid(h, w);
}

py::list from_bbox(const py::array& boxes_in, index_t h, index_t w, bool compressed,
                   const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  check_size(h, w);
  bind::check_array(boxes_in, bind::is_real(boxes_in),
                    boxes_in.ndim() == 2 && boxes_in.shape(1) == 4, "boxes",
                    "an (N, 4) array of [x, y, w, h] boxes (real numbers)");
  const auto boxes = bind::carray<double>::ensure(boxes_in);
  const index_t n = boxes.shape(0);
  // Copied first: the caller's array may change while the GIL is released below.
  const std::vector<double> b(boxes.data(), boxes.data() + 4 * n);
  std::vector<Counts> counts(static_cast<size_t>(n));
  try {
    py::gil_scoped_release release;  // reads only the copy `b`
    polygon::boxes_to_rle(b.data(), n, h, w, counts.data(), nt);
  } catch (const IndexedError& e) {
    bind::raise_indexed(false, "boxes", e.index(), e.message());
  }
  return bind::make_rles(counts, nullptr, h, w, compressed);
}

py::list from_polygons(py::handle polys, index_t h, index_t w, bool compressed, index_t min_points,
                       const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  check_size(h, w);
  if (!PyList_Check(polys.ptr()) && !PyTuple_Check(polys.ptr()))
    throw py::type_error("polygons must be a list of polygons [[x0, y0, x1, y1, ...], ...], got " +
                         type_name(polys));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(polys);
  const size_t n = seq.size();
  std::vector<double> xy;
  std::vector<index_t> offsets{0};
  offsets.reserve(n + 1);
  for (size_t i = 0; i < n; ++i) {
    bind::for_object("polygons", static_cast<index_t>(i),
                     [&] { read_polygon(seq[i], xy, [] { return std::string(); }); });
    offsets.push_back(static_cast<index_t>(xy.size()));
  }
  std::vector<Counts> counts(n);
  try {
    py::gil_scoped_release release;  // reads only the copies `xy` and `offsets`
    polygon::polygons_to_rle(xy.data(), offsets.data(), static_cast<index_t>(n), h, w, min_points,
                             counts.data(), nt);
  } catch (const IndexedError& e) {
    bind::raise_indexed(false, "polygons", e.index(), e.message());
  }
  return bind::make_rles(counts, nullptr, h, w, compressed);
}

// A COCO `segmentation` per annotation -> one compressed RLE dict each (pycocotools' annToRLE,
// segmentation.hpp). str_counts: counts as str (what JSON files hold) instead of bytes (what
// pycocotools returns). Errors name segmentations[i] and carry i (IndexedValueError).
py::list from_segmentations(py::handle segs_obj, const bind::carray<index_t>& heights,
                            const bind::carray<index_t>& widths, bool str_counts,
                            const py::object& num_threads) {
  const int nt = bind::resolve_threads(num_threads);
  if (!PyList_Check(segs_obj.ptr()) && !PyTuple_Check(segs_obj.ptr()))
    throw py::type_error("segmentations must be a list, got " + type_name(segs_obj));
  // A list or a tuple (checked above). Items through PySequence_GetItem (bounds-checked, a
  // reference held): reading a coordinate may run Python code that changes the lists.
  const size_t n = static_cast<size_t>(PySequence_Fast_GET_SIZE(segs_obj.ptr()));
  auto item = [](py::handle seq, size_t i, const char* name) {
    auto o = py::reinterpret_steal<py::object>(
        PySequence_GetItem(seq.ptr(), static_cast<Py_ssize_t>(i)));
    if (!o) {
      PyErr_Clear();  // an IndexError: the list shrank while it was being read
      throw py::value_error(std::string(name) + " changed size while being read");
    }
    return o;
  };
  if (heights.ndim() != 1 || widths.ndim() != 1 || static_cast<size_t>(heights.size()) != n ||
      static_cast<size_t>(widths.size()) != n)
    throw py::value_error("heights and widths must have one entry per segmentation (" +
                          std::to_string(n) + "), got " + std::to_string(heights.size()) + " and " +
                          std::to_string(widths.size()));
  // Polygons are flattened into one coordinate buffer; RLE dicts go to `rles`, object
  // rle_objects[r] being rles[r].
  std::vector<segmentation::Object> objects(n);
  std::vector<double> xy;
  std::vector<index_t> poly_offsets{0};
  {
    // The buffers reserved from a first look at the lists' lengths (no item is read): growing
    // them by doubling copied and page-faulted the coordinates several times over.
    size_t values = 0, polys = 0;
    PyObject* const* segs = PySequence_Fast_ITEMS(segs_obj.ptr());
    for (size_t i = 0; i < n; ++i) {
      if (!PyList_Check(segs[i])) continue;
      const Py_ssize_t k = PyList_GET_SIZE(segs[i]);
      polys += static_cast<size_t>(k);
      for (Py_ssize_t p = 0; p < k; ++p) {
        PyObject* poly = PyList_GET_ITEM(segs[i], p);
        if (PyList_Check(poly)) values += static_cast<size_t>(PyList_GET_SIZE(poly));
      }
    }
    xy.reserve(values);
    poly_offsets.reserve(polys + 1);
  }
  bind::RleInputs rles;
  rles.arg = "segmentations";
  std::vector<index_t> rle_objects;
  std::vector<py::object> original_counts(n);  // compressed counts, returned as given
  for (size_t i = 0; i < n; ++i) {
    const py::object s = item(segs_obj, i, "segmentations");
    segmentation::Object& o = objects[i];
    o.h = heights.data()[i];
    o.w = widths.data()[i];
    bind::for_object("segmentations", static_cast<index_t>(i), [&] {
      if (PyList_Check(s.ptr()) || PyTuple_Check(s.ptr())) {
        const size_t n_polys = static_cast<size_t>(PySequence_Fast_GET_SIZE(s.ptr()));
        o.poly_begin = static_cast<index_t>(poly_offsets.size() - 1);
        for (size_t p = 0; p < n_polys; ++p) {
          read_polygon(item(s, p, ""), xy, [p] { return "[" + std::to_string(p) + "]"; });
          poly_offsets.push_back(static_cast<index_t>(xy.size()));
        }
        o.poly_end = static_cast<index_t>(poly_offsets.size() - 1);
      } else if (PyDict_Check(s.ptr())) {
        const size_t r = rles.add();
        bind::read_rle(s, rles, r);
        o.is_rle = true;
        o.rle_h = rles.h[r];
        o.rle_w = rles.w[r];
        if (rles.str[r]) original_counts[i] = py::reinterpret_borrow<py::dict>(s)["counts"];
        rle_objects.push_back(static_cast<index_t>(i));
      } else {
        throw py::type_error(" must be a polygon list or an RLE dict, got " + type_name(s));
      }
    });
  }
  std::vector<std::string> strings(n);
  index_t failed = -1, failed_rle = -1;
  std::string message;
  {
    py::gil_scoped_release release;  // all inputs copied into C++ buffers or pinned by `keep`
    try {
      segmentation::to_strings(objects.data(), static_cast<index_t>(n), xy.data(),
                               poly_offsets.data(), strings.data(), nt);
      try {
        rle::from_strings(rles.str.data(), rles.str_len.data(), rles.h.data(), rles.w.data(),
                          static_cast<index_t>(rles.size()), rles.counts.data(), nt);
      } catch (const IndexedError& e) {
        failed_rle = e.index();
        throw;
      }
      // Uncompressed RLEs are compressed; compressed ones are returned as given.
      for (size_t r = 0; r < rle_objects.size(); ++r)
        if (rles.str[r] == nullptr)
          strings[static_cast<size_t>(rle_objects[r])] = rle::to_string(rles.counts[r]);
    } catch (const IndexedError& e) {
      failed = failed_rle >= 0 ? rle_objects[static_cast<size_t>(failed_rle)] : e.index();
      message = e.message();
    }
  }
  if (failed >= 0) bind::raise_indexed(false, "segmentations", failed, message);
  auto counts_value = [&](const std::string& s) -> py::object {
    if (str_counts)
      return py::reinterpret_steal<py::object>(
          PyUnicode_DecodeASCII(s.data(), static_cast<py::ssize_t>(s.size()), nullptr));
    return py::bytes(s);
  };
  py::list out(n);
  for (size_t i = 0; i < n; ++i) {
    py::object c;
    if (!original_counts[i]) {
      c = counts_value(strings[i]);
    } else if (str_counts && !PyUnicode_Check(original_counts[i].ptr())) {
      c = counts_value(
          std::string(PyBytes_AS_STRING(original_counts[i].ptr()),
                      static_cast<size_t>(PyBytes_GET_SIZE(original_counts[i].ptr()))));
    } else {
      c = original_counts[i];  // as given (pycocotools' annToRLE returns it untouched)
    }
    out[i] = bind::make_rle(heights.data()[i], widths.data()[i], c);
  }
  return out;
}

}  // namespace

void bind_polygon(py::module_& m) {
  const auto nt = py::arg("num_threads") = py::none();
  m.def("rle_from_bbox", &from_bbox, py::arg("boxes"), py::arg("h"), py::arg("w"),
        py::arg("compressed"), py::kw_only(), nt);
  m.def("rle_from_polygons", &from_polygons, py::arg("polygons"), py::arg("h"), py::arg("w"),
        py::arg("compressed"), py::arg("min_points") = 3, py::kw_only(), nt);
  m.def("rle_from_segmentations", &from_segmentations, py::arg("segmentations"), py::arg("heights"),
        py::arg("widths"), py::arg("str_counts"), py::kw_only(), nt);
}
