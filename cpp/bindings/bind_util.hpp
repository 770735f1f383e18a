// Helpers shared by the binding files: thread-count resolution and shape/argument messages.
//
// Conventions (DESIGN.md): read every pointer and allocate every output while holding the GIL,
// then release it around the kernel call only. std::invalid_argument becomes ValueError and
// std::out_of_range IndexError (pybind11's built-in translation); wrong types raise TypeError.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "maskprep/common.hpp"
#include "maskprep/parallel.hpp"

namespace maskprep::bind {

namespace py = pybind11;

// The scope of `with maskprep.threads(n)`: a contextvars.ContextVar holding a positive int, so
// that a block governs only the Python thread (or asyncio task) that entered it and concurrent
// blocks cannot clobber each other. Created once with the GIL held and never freed (a static
// py::object would be destroyed after the interpreter).
inline PyObject* thread_scope_var() {
  static PyObject* var = PyContextVar_New("maskprep_num_threads", nullptr);
  if (var == nullptr) throw py::error_already_set();
  return var;
}

// The budget num_threads=None stands for here: the innermost `threads(n)` block of this context,
// else the process-wide budget.
inline int current_budget() {
  PyObject* value = nullptr;
  if (PyContextVar_Get(thread_scope_var(), nullptr, &value) < 0) throw py::error_already_set();
  if (value == nullptr) return thread_budget();
  const int n = py::reinterpret_steal<py::object>(value).cast<int>();
  return n >= 1 ? n : thread_budget();
}

// num_threads=None -> current_budget(); -1 -> all cores; n >= 1 -> n; else ValueError.
inline int resolve_threads(const py::object& num_threads) {
  if (num_threads.is_none()) return current_budget();
  if (!py::isinstance<py::int_>(num_threads) || py::isinstance<py::bool_>(num_threads)) {
    throw py::type_error("num_threads must be None or an int, got " +
                         std::string(py::str(py::type::of(num_threads).attr("__name__"))));
  }
  return resolve_num_threads(num_threads.cast<int>());
}

// "(3, 5)" for an array of shape (3, 5).
inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// ---- array arguments: the one owner of dtype, rank and shape checks (DESIGN.md) --------------
// Each array argument is described once, e.g. "a non-empty (H, W) bool or uint8 array". A wrong
// dtype raises TypeError, a wrong rank, shape or an empty array ValueError, both in the same
// words: "mask must be a non-empty (H, W) bool or uint8 array, got float64 with shape (4, 4)".

[[noreturn]] inline void bad_dtype(const py::array& a, const char* name, const char* expected) {
  throw py::type_error(std::string(name) + " must be " + expected + ", got " + dtype_str(a) +
                       " with shape " + shape_str(a));
}

[[noreturn]] inline void bad_shape(const py::array& a, const char* name, const char* expected) {
  throw py::value_error(std::string(name) + " must be " + expected + ", got " + dtype_str(a) +
                        " with shape " + shape_str(a));
}

// dtype first (TypeError), then rank/shape (ValueError).
inline void check_array(const py::array& a, bool dtype_ok, bool shape_ok, const char* name,
                        const char* expected) {
  if (!dtype_ok) bad_dtype(a, name, expected);
  if (!shape_ok) bad_shape(a, name, expected);
}

template <typename T>
inline bool has_dtype(const py::array& a) {
  return a.dtype().is(py::dtype::of<T>());
}

inline bool is_byte_mask(const py::array& a) {
  return has_dtype<bool>(a) || has_dtype<std::uint8_t>(a);
}

inline bool is_integer(const py::array& a) {
  return a.dtype().kind() == 'i' || a.dtype().kind() == 'u';
}

inline bool is_real(const py::array& a) { return is_integer(a) || a.dtype().kind() == 'f'; }

// Every dimension positive.
inline bool non_empty(const py::array& a) {
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) <= 0) return false;
  return true;
}

// A non-empty image of `ndim` dimensions.
inline bool non_empty(const py::array& a, py::ssize_t ndim) {
  return a.ndim() == ndim && non_empty(a);
}

// The one array alias of the bindings: a C-contiguous array of T, converted when it is not.
template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

using byte_array = carray<std::uint8_t>;

// A checked bool/uint8 mask as C-ordered bytes: bool and uint8 share a byte layout, so bool is
// reinterpreted rather than converted (a copy only when the array is not C-contiguous).
inline byte_array mask_bytes(const py::array& a, bool shape_ok, const char* name,
                             const char* expected) {
  check_array(a, is_byte_mask(a), shape_ok, name, expected);
  if (has_dtype<bool>(a)) return byte_array::ensure(a.attr("view")("uint8"));
  return byte_array::ensure(a);
}

// The one enum parser of the bindings: the value named `value` among `names`, else
// std::invalid_argument (ValueError) "op must be 'erode', 'dilate' or 'open', got 'x'".
template <typename E>
E parse_enum(const std::string& value, const char* arg,
             std::initializer_list<std::pair<const char*, E>> names) {
  std::string expected;
  size_t k = 0;
  for (const auto& [name, e] : names) {
    if (value == name) return e;
    expected += (k == 0 ? "'" : k + 1 == names.size() ? " or '" : ", '") + std::string(name) + "'";
    ++k;
  }
  throw std::invalid_argument(std::string(arg) + " must be " + expected + ", got '" + value + "'");
}

// The name of an object's type, for messages ("got str").
inline std::string type_name(py::handle h) {
  return py::str(py::type::of(h).attr("__name__")).cast<std::string>();
}

// Appends the numbers of one polygon to xy: a sequence of numbers or a 1-D numeric array
// (detectron2 keeps polygons as float64 arrays). what() names the polygon in an error; it is
// only called to build one (no string work per polygon on the hot path).
template <typename Name>
void read_polygon(py::handle poly, std::vector<double>& xy, Name&& what) {
  if (!PyList_Check(poly.ptr()) && !PyTuple_Check(poly.ptr()) && py::isinstance<py::array>(poly)) {
    py::array a = py::reinterpret_borrow<py::array>(poly);
    const char kind = a.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
      throw py::type_error(what() + " must be a numeric array, got dtype " + dtype_str(a));
    if (a.ndim() != 1)
      throw py::value_error(what() + " must be 1-D [x0, y0, x1, y1, ...], got shape " +
                            shape_str(a));
    auto d = carray<double>::ensure(a);
    if (!d) throw py::error_already_set();
    xy.insert(xy.end(), d.data(), d.data() + d.shape(0));
    return;
  }
  py::object seq = py::reinterpret_steal<py::object>(PySequence_Fast(poly.ptr(), ""));
  if (!seq || PyUnicode_Check(poly.ptr()) || PyBytes_Check(poly.ptr()) ||
      PyDict_Check(poly.ptr())) {
    PyErr_Clear();
    throw py::type_error(what() + " must be a list of numbers [x0, y0, x1, y1, ...], got " +
                         type_name(poly));
  }
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  const size_t first = xy.size();
  xy.resize(first + static_cast<size_t>(n));
  double* out = xy.data() + first;
  for (Py_ssize_t j = 0; j < n; ++j) {
    // A float is read in place (the common case: COCO coordinates); ints and other numbers
    // through PyFloat_AsDouble (__float__ / __index__), as pycocotools' np.array(..., double).
    if (PyFloat_CheckExact(items[j])) {
      out[j] = PyFloat_AS_DOUBLE(items[j]);
      continue;
    }
    // Other numbers may run Python code (a __float__) that changes the list: the item is held
    // and the list's items and size are read again after the call.
    const auto item = py::reinterpret_borrow<py::object>(items[j]);
    const double v = PyFloat_AsDouble(item.ptr());
    if (v == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      xy.resize(first);
      throw py::type_error(what() + "[" + std::to_string(j) + "] must be a number, got " +
                           type_name(item));
    }
    items = PySequence_Fast_ITEMS(seq.ptr());
    if (PySequence_Fast_GET_SIZE(seq.ptr()) != n) {
      xy.resize(first);
      throw py::value_error(what() + " changed size while being read");
    }
    out = xy.data() + first;
    out[j] = v;
  }
}

}  // namespace maskprep::bind
