//! Rule grouping and fast-pattern prefilter (first layer of the engine).
