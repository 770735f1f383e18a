// Whole COCO instances files converted to compressed RLE straight from the JSON text.
//
// Why: a 500 MB instances file parsed into Python objects takes several GB and most of a
// conversion's time goes into building, walking and freeing them. Here the file is scanned once
// (a validating JSON scanner), only the values that matter are parsed (each image's id, height
// and width; each annotation's id, image_id and segmentation), segmentations are converted in
// parallel, and the output is the input text with those values replaced: every other byte,
// field order and number formatting included, is copied verbatim.
//
// The result per annotation is what pycocotools' COCO.annToRLE gives, counts as a JSON string:
// polygon lists -> merge(frPyObjects(seg, h, w)); uncompressed RLE {"size", "counts": [...]} ->
// compressed, counts kept as given; compressed RLE -> validated and kept as written.
// Annotations whose segmentation is absent, null or [] are copied unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "maskprep/common.hpp"

namespace maskprep::coco_json {

// The text is not JSON, or nested deeper than the scanner's limit of 512 arrays and objects
// (the message gives the byte offset and what was expected). Strings must be UTF-8 without
// surrogates (raw or as \u escapes); NaN and Infinity are not JSON.
struct SyntaxError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The text is JSON but its top-level value is not an object (e.g. a COCO results file, which
// is an array).
struct NotAnObject : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Checks that data[0..len) is one JSON value. Throws: SyntaxError if not.
void check_json(const char* data, index_t len);

struct ConvertOptions {
  bool recompute = false;  // replace (or add) "area" and "bbox" from the mask
  int num_threads = 1;
  // Called between batches with (annotations done, annotations in all), on the calling thread.
  std::function<void(index_t, index_t)> progress;
};

struct AnnotationError {
  std::string id;  // the annotation's "id" as JSON text (e.g. 17 or "a-17"); "" when absent
  std::string message;
};

struct ConvertResult {
  std::string output;  // the converted file (empty when errors is not empty and !keep_going)
  index_t images = 0, annotations = 0, converted = 0, polygons = 0, rles = 0;
  std::vector<AnnotationError> errors;  // annotations that cannot be converted, in file order
};

// Converts the JSON text data[0..len). Throws SyntaxError for text that is not JSON,
// NotAnObject for a top-level value that is not an object, and std::invalid_argument for JSON
// whose structure is not a COCO instances file ("images" and "annotations" arrays of objects;
// images with an id and an integer height and width from 0 to 2^31 - 1; or, without "images",
// an SA-1B per-image file: one "image" object (height, width, an optional "id" or "image_id")
// that annotations without an image_id belong to; a number with an
// integral value such as 10.0 counts as an integer, here and in RLE sizes). Annotations that
// cannot be converted (bad polygons, sizes that are not their image's, malformed counts, an
// image_id that is not in images) are listed in errors; they are copied unchanged when
// keep_going, else the output is left empty.
ConvertResult convert_to_rle(const char* data, index_t len, const ConvertOptions& options,
                             bool keep_going);

// The columns `maskprep export --format yolo` needs, read straight from an instances file's text
// in one pass (no Python objects: parsing a 25 MB file into them took longer than the export).
// Only files in the regular form below are read; for anything else `irregular` says what, the
// other fields are unset, and the caller takes its general path (which reports the problem in
// its own words). The regular form:
// - a JSON object with "images" and "annotations" arrays of objects ("categories" optional);
//   a repeated key: the last one counts, as in Python's json;
// - every image: an integer "id" (64-bit, no fraction or exponent; unique), a "file_name"
//   string without escapes, "height" and "width" as convert_to_rle reads them;
// - every annotation: integer "id", "image_id" (one of the images) and "category_id";
//   "iscrowd" absent, null, 0, 1, false or true; "segmentation" either a non-empty array of
//   polygons, each an array of an even count of at least 6 numbers, or an object with a
//   "size" [h, w] equal to its image's (its "counts" are the caller's to check).
struct Columns {
  std::string irregular;  // why the text is not in the regular form ("" when it is)
  // Images in file order.
  std::vector<std::int64_t> image_id;
  std::vector<index_t> height, width;
  std::vector<std::string> file_name;  // as written (UTF-8)
  // Annotations in file order. image: index into the images. parts: polygons (0 for an RLE),
  // each part_points[...] points long, their (x, y) values in xy in order.
  std::vector<std::int64_t> ann_id, category_id;
  std::vector<index_t> image, parts, part_points;
  std::vector<std::uint8_t> iscrowd;
  std::vector<double> xy;
  // An RLE segmentation's text: [rle_begin[k], rle_end[k]) of the input, -1 for polygons.
  std::vector<index_t> rle_begin, rle_end;
  index_t categories_begin = -1, categories_end = -1;  // the "categories" value, or -1
};

Columns read_columns(const char* data, index_t len);

}  // namespace maskprep::coco_json
