// Helpers shared by the binding files: thread-count resolution and shape/argument messages.
//
// Conventions (DESIGN.md): read every pointer and allocate every output while holding the GIL,
// then release it around the kernel call only. std::invalid_argument becomes ValueError and
// std::out_of_range IndexError (pybind11's built-in translation); wrong types raise TypeError.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "maskprep/common.hpp"
#include "maskprep/parallel.hpp"

namespace maskprep::bind {

namespace py = pybind11;

// num_threads=None -> process budget; -1 -> all cores; n >= 1 -> n; else ValueError.
inline int resolve_threads(const py::object& num_threads) {
  if (num_threads.is_none()) return thread_budget();
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

}  // namespace maskprep::bind
