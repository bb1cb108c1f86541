//! The server's integration tests, one binary: each module was its own test
//! binary once, and linking the whole server 32 times took most of CI's hour.

#[macro_use]
mod common;

mod attachments;
mod authorization;
mod bot;
mod calendar;
mod console;
mod customer_loop;
mod deadlines;
mod dispatch;
mod escaping;
mod exports;
mod inbound;
mod incident_nodes;
mod incidents;
mod jobs;
mod kb;
mod kpi;
mod lifecycle;
mod macros;
mod mail_in;
mod merge;
mod order_nodes;
mod orders;
mod privacy;
mod quality;
mod refusals;
mod reports;
mod search;
mod suggest;
mod tmf621;
mod trust;
mod webhooks;
mod wechat;
