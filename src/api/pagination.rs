//! `page_number` (0-based) and `page_size` (1..=1000) query parameters, both required on list
//! endpoints. Page k holds items `[k*size, (k+1)*size)`; past the end is an empty list.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;

use super::error::ApiError;
use crate::store::query::Page;

pub const MAX_PAGE_SIZE: u64 = 1000;

/// The two parameters as the OpenAPI document describes them (`PageQuery` parses them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the OpenAPI derive only
pub struct PageParams {
    /// 0-based page.
    page_number: u64,
    /// Items per page, 1 to 1000.
    #[param(minimum = 1, maximum = 1000)]
    page_size: u64,
}

const _: () = assert!(MAX_PAGE_SIZE == 1000, "update PageParams' maximum");

#[derive(Debug, Deserialize)]
struct RawPage {
    page_number: Option<String>,
    page_size: Option<String>,
}

fn number(name: &str, value: Option<String>) -> Result<u64, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::bad_request("invalid_query", format!("missing query parameter `{name}`"))
    })?;
    value.trim().parse::<u64>().map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            format!("`{name}` must be a non-negative integer, got {value:?}"),
        )
    })
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageQuery(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(raw) = Query::<RawPage>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        let number = number("page_number", raw.page_number)?;
        let size = number_size(raw.page_size)?;
        Ok(PageQuery(Page { number, size }))
    }
}

fn number_size(value: Option<String>) -> Result<u64, ApiError> {
    let size = number("page_size", value)?;
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`page_size` must be between 1 and {MAX_PAGE_SIZE}, got {size}"),
        ));
    }
    Ok(size)
}
