//! Gitea's and Forgejo's payload normalizer (`ade::events::normalize` with `ForgeKind::Gitea`),
//! behind the body decoding the dispatcher does first. Input: `event \n event_type \n
//! content_type \n body` (see `ade_fuzz::Delivery`); properties in `ade_fuzz::check_delivery`.
#![no_main]

use ade::forge::ForgeKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ade_fuzz::check_delivery(ForgeKind::Gitea, data));
