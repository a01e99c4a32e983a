//! Topic ids (KIP-516): the UUID a broker gives a topic when it is created, a new one each
//! time a topic of the same name is created again. Offsets alone cannot tell a recreated
//! topic that has already grown past a stored position from the same log grown; its id can.
//!
//! The `rdkafka` crate wraps no admin call that returns topic ids, so this calls
//! librdkafka's `DescribeTopics` (2.3+) through the bindings `rdkafka` re-exports. Any
//! client handle can run it (the console's consumer does). A broker that has no topic ids
//! (older than Kafka 2.8) answers with the zero id, which is left out: ingest then judges
//! by offsets alone.

use rdkafka::bindings as rd;
use rdkafka::client::{Client, ClientContext};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::time::Duration;

/// The zero UUID in librdkafka's base64 form: "no topic id".
const NO_ID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// Each of `topics` the broker knows, with its id (base64, as Kafka's tools print it).
/// Blocking, up to `timeout`. Topics without an id, or unknown, are left out.
pub fn topic_ids<C: ClientContext>(
    client: &Client<C>,
    topics: &[&str],
    timeout: Duration,
) -> Result<HashMap<String, String>, String> {
    if topics.is_empty() {
        return Ok(HashMap::new());
    }
    let names: Vec<CString> = topics
        .iter()
        .map(|t| CString::new(*t).map_err(|_| format!("topic name {t:?} has a NUL byte")))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const std::os::raw::c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let rk = client.native_ptr();
    // SAFETY: every pointer passed is live for the call (`names` outlives `ptrs`, and the
    // collection copies them); each object created here is destroyed here, once, and the
    // result's strings are copied before the event that owns them is destroyed.
    unsafe {
        let collection = rd::rd_kafka_TopicCollection_of_topic_names(ptrs.as_mut_ptr(), ptrs.len());
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        );
        let mut errstr = [0 as std::os::raw::c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        let queue = rd::rd_kafka_queue_new(rk);
        rd::rd_kafka_DescribeTopics(rk, collection, options, queue);
        let event = rd::rd_kafka_queue_poll(queue, ms.saturating_add(1000));
        let out = if event.is_null() {
            Err("no answer to DescribeTopics in time".to_string())
        } else {
            let out = read_result(event);
            rd::rd_kafka_event_destroy(event);
            out
        };
        rd::rd_kafka_queue_destroy(queue);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_TopicCollection_destroy(collection);
        out
    }
}

/// The ids in a `DescribeTopics` result event.
///
/// # Safety
/// `event` is a live, non-null event polled from the queue `DescribeTopics` answered on.
unsafe fn read_result(event: *mut rd::rd_kafka_event_t) -> Result<HashMap<String, String>, String> {
    let code = rd::rd_kafka_event_error(event);
    if code != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        let why = rd::rd_kafka_event_error_string(event);
        let why = if why.is_null() {
            format!("{code:?}")
        } else {
            CStr::from_ptr(why).to_string_lossy().into_owned()
        };
        return Err(format!("DescribeTopics failed: {why}"));
    }
    let result = rd::rd_kafka_event_DescribeTopics_result(event);
    if result.is_null() {
        return Err("DescribeTopics gave no result".into());
    }
    let mut n = 0usize;
    let descriptions = rd::rd_kafka_DescribeTopics_result_topics(result, &mut n);
    let mut ids = HashMap::new();
    for i in 0..n {
        let d = *descriptions.add(i);
        let error = rd::rd_kafka_TopicDescription_error(d);
        if !error.is_null()
            && rd::rd_kafka_error_code(error) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        {
            continue; // unknown topic, or not authorised: no id to compare
        }
        let name = rd::rd_kafka_TopicDescription_name(d);
        let id = rd::rd_kafka_TopicDescription_topic_id(d);
        if name.is_null() || id.is_null() {
            continue;
        }
        let id = CStr::from_ptr(rd::rd_kafka_Uuid_base64str(id)).to_string_lossy();
        if id != NO_ID {
            let name = CStr::from_ptr(name).to_string_lossy().into_owned();
            ids.insert(name, id.into_owned());
        }
    }
    Ok(ids)
}
