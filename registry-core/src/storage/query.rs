//! Query specifications and pages of results.

use chrono::{DateTime, Utc};

/// A field value a [`QuerySpec`] condition compares with.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// SQL `NULL`, Python `None`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// A point in time.
    Time(DateTime<Utc>),
}

impl From<bool> for FieldValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for FieldValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<f64> for FieldValue {
    fn from(value: f64) -> Self {
        Self::Float(value)
    }
}

impl From<&str> for FieldValue {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl<T: Into<FieldValue>> From<Option<T>> for FieldValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

impl From<DateTime<Utc>> for FieldValue {
    fn from(value: DateTime<Utc>) -> Self {
        Self::Time(value)
    }
}

/// Which items a query selects: an AND of field equalities, with an optional limit and offset.
///
/// ```
/// use registry_core::QuerySpec;
/// let spec = QuerySpec::new().eq("model_name", "glm-4@llm").eq("healthy", true).limit(10);
/// assert_eq!(spec.conditions().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerySpec {
    conditions: Vec<(String, FieldValue)>,
    limit: Option<u64>,
    offset: u64,
}

impl QuerySpec {
    /// A spec that selects everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the condition `field == value`.
    pub fn eq(mut self, field: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.conditions.push((field.into(), value.into()));
        self
    }

    /// Returns at most `limit` items.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips the first `offset` matching items.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }

    /// The conditions, all of which must hold.
    pub fn conditions(&self) -> &[(String, FieldValue)] {
        &self.conditions
    }

    /// The limit, if any.
    pub fn limit_value(&self) -> Option<u64> {
        self.limit
    }

    /// The offset.
    pub fn offset_value(&self) -> u64 {
        self.offset
    }
}

/// One page of a paginated query, as DB-GPT's `PaginationResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all.
    pub total_count: u64,
    /// How many pages there are.
    pub total_pages: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// The page size asked for.
    pub page_size: u64,
}
