//! The page size every listing accepts.

use crate::domain::ValidationError;

/// A page size of 1 to 100 (default 20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(usize);

impl PageLimit {
    pub const DEFAULT: usize = 20;
    pub const MAX: usize = 100;

    /// The client's `limit`, or the default when it gave none.
    pub fn parse(limit: Option<usize>) -> Result<Self, ValidationError> {
        match limit.unwrap_or(Self::DEFAULT) {
            n @ 1..=Self::MAX => Ok(Self(n)),
            _ => Err(ValidationError::new("limit", "must be from 1 to 100")),
        }
    }

    pub fn get(self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_1_to_100_name_the_field() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), 20);
        assert_eq!(PageLimit::parse(Some(100)).unwrap().get(), 100);
        for bad in [0, 101] {
            assert_eq!(PageLimit::parse(Some(bad)).unwrap_err().field, "limit");
        }
    }
}
