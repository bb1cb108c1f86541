//! Typed identifiers, so that a user id can never be passed where a ticket id
//! is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(TicketId, "Database id of a ticket (工单).");
id_type!(UserId, "Database id of a staff user (员工账号).");
id_type!(CustomerId, "Database id of a customer (客户).");
id_type!(TeamId, "Database id of a team (班组).");
id_type!(DepartmentId, "Database id of a department (部门).");
id_type!(MacroId, "Database id of a macro or canned reply (快捷回复).");
