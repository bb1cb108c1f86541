//! Tests of the real binary, one test binary: each module was its own once.

mod common;
#[path = "../../../kefu-server/tests/support/imap_server.rs"]
mod imap_server;

mod at_rest;
mod calendar;
mod crash;
mod keys;
mod logs;
mod mail_crash;
mod nats_stream;
mod nodes;
mod operations;
mod org;
mod sessions;
mod transfer;
