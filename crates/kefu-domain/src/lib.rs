//! kefu domain core (客服工单领域核心).
//!
//! Everything here is pure: no I/O, no async, no clock reads. Tickets, their
//! types, channels and priorities, the per-type flows (loaded from data), the
//! action rules, the priority policy and the audit hash chain live here so
//! that every rule can be unit-tested exhaustively and every store and
//! service interprets them the same way.

pub mod access;
pub mod action;
pub mod assessment;
pub mod attachment;
pub mod audit;
pub mod bot;
pub mod calendar;
pub mod catalogue;
pub mod clock;
pub mod compensation;
pub mod customer_loop;
pub mod dispatch;
pub mod enums;
pub mod error;
pub mod events;
pub mod facts;
pub mod figures;
pub mod flow;
pub mod grading;
pub mod ids;
pub mod inbound;
pub mod incident;
pub mod incident_record;
pub mod intake;
pub mod inventory;
pub mod kb;
pub mod kpi;
pub mod macros;
pub mod metrics;
pub mod order;
pub mod org;
pub mod playbook;
pub mod policy;
pub mod priority;
pub mod privacy;
pub mod quality;
pub mod rectification;
pub mod rollup;
pub mod sampling;
pub mod security;
pub mod sla;
pub mod spike;
pub mod templates;
pub mod ticket;
pub mod time;
pub mod validate;
pub mod violations;

#[cfg(test)]
mod flow_tests;

pub use enums::{Channel, Priority, Role, TicketType};
pub use error::{DomainError, FieldError};
pub use ids::{CustomerId, DepartmentId, MacroId, TeamId, TicketId, UserId};
