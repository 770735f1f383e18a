// Helpers shared by the binding files: thread-count resolution and shape/argument messages.
//
// Conventions (DESIGN.md): read every pointer and allocate every output while holding the GIL,
// then release it around the kernel call only. std::invalid_argument becomes ValueError and
// std::out_of_range IndexError (pybind11's built-in translation); wrong types raise TypeError.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "maskprep/common.hpp"
#include "maskprep/parallel.hpp"
#include "maskprep/rle.hpp"

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

// ---- COCO RLE dicts: {"size": [h, w], "counts": bytes | list} --------------------------------

inline py::dict make_rle(index_t h, index_t w, py::object counts) {
  py::dict d;
  py::list size;
  size.append(h);
  size.append(w);
  d["size"] = size;
  d["counts"] = std::move(counts);
  return d;
}

inline py::object counts_object(const rle::Counts& c, bool compressed) {
  if (compressed) return py::bytes(rle::to_string(c));
  py::list l(c.size());
  for (size_t j = 0; j < c.size(); ++j) l[j] = py::int_(c[j]);
  return std::move(l);
}

inline py::list make_rles(const std::vector<rle::Counts>& counts, const std::vector<std::string>* strings,
                          index_t h, index_t w, bool compressed) {
  py::list out(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    py::object c = strings ? py::bytes((*strings)[i]) : counts_object(counts[i], compressed);
    out[i] = make_rle(h, w, c);
  }
  return out;
}

inline std::vector<std::string> to_strings(const std::vector<rle::Counts>& counts, int num_threads) {
  std::vector<std::string> s(counts.size());
  const index_t n = static_cast<index_t>(counts.size());
  index_t work = 0;
  for (const auto& c : counts) work += static_cast<index_t>(c.size());
  parallel_for(n, threads_for_work(num_threads, work, 1 << 15),
               [&](index_t i) { s[i] = rle::to_string(counts[i]); }, 16);
  return s;
}

}  // namespace maskprep::bind
