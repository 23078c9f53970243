/// Why a plane could not be coded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VtlError {
    #[error("plane buffer of {got} bytes, the shape needs {expected}")]
    WrongSize { got: usize, expected: usize },
    /// The picture header, or data outside any slice, is malformed or truncated.
    #[error("corrupt VTL data: {0}")]
    Corrupt(String),
    /// One slice is malformed: its framing, block modes or entropy-coded streams.
    #[error("corrupt VTL slice {slice} of {slices} (rows {first_row}..{end_row}): {what}")]
    CorruptSlice {
        slice: usize,
        slices: usize,
        first_row: usize,
        end_row: usize,
        what: String,
    },
    /// The picture was coded for another plane geometry (a mixed-up plane or session).
    #[error("VTL picture is for {wire}, this decoder's plane is {plane}")]
    ShapeMismatch { wire: String, plane: String },
    /// The plane's shape is outside what VTL codes.
    #[error("VTL cannot code a plane of {0}")]
    Unsupported(String),
    #[error("VTL picture predicts from a previous picture, but there is none (the chain restarts only at a restart picture)")]
    NoReference,
}
