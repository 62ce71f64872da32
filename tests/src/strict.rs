//! AWS's strictness where moto is lenient, enforced on the wire by a proxy in front of moto,
//! plus the ECS side effects AWS has and moto lacks. Give the code under test clients built
//! from [`StrictAws::sdk_config`]; the harness may keep using the bed's direct clients.
//!
//! | AWS does | moto does | the proxy |
//! | --- | --- | --- |
//! | SQS FIFO: a `MessageDeduplicationId` seen in the last 5 minutes is accepted and **not delivered**, even if the first message was already received and deleted | deduplicates only against messages still in the queue | remembers every id it forwarded per queue; a repeat within the window is answered as sent and dropped ([`StrictAws::advance`] moves the window's clock) |
//! | `SetDesiredCapacity` outside [MinSize, MaxSize] is a `ValidationError` | accepts it | refuses it with AWS's message |
//! | `UpdateAutoScalingGroup` with `DesiredCapacity` outside the new limits, or MinSize > MaxSize, is a `ValidationError` | accepts it | refuses it |
//! | `TerminateInstanceInAutoScalingGroup` with decrement at MinSize is a `ValidationError` | accepts it | refuses it |
//! | an instance Auto Scaling terminates (MaxSize lowered below desired, desired lowered) dies with its tasks, and ECS deregisters its container instance | terminates the EC2 instance only | stops the tasks on it and force-deregisters the container instance, and records [`StrictEvent::InstanceTerminated`] |
//! | instances pass through lifecycle states such as `Terminating:Wait` (lifecycle hooks), `Standby` | rarely | [`StrictAws::set_lifecycle_state`] rewrites an instance's state in `DescribeAutoScalingGroups` and `DescribeAutoScalingInstances` answers |
//! | ECS `DeleteAttributes` of a custom attribute takes its name and target, without the value (as AWS documents it) | deletes only when the request's value equals the attribute's: without one, silently nothing | fills in the attribute's current value before forwarding |
//! | a container instance on a GPU instance registers its GPUs (`GPU` resources) | ignores `totalResources`: no GPU | [`StrictAws::set_gpus_per_instance`] adds them to `DescribeContainerInstances` answers, remaining as the live tasks leave them |
//! | an instance registers what its type has (CPU units, memory less what the OS and agent take) | ignores `totalResources`: CPU 4096 / MEMORY 7482 whatever the type | [`StrictAws::set_registered_for_type`] shows another size in `DescribeContainerInstances` answers for instances of a type (`ecs.instance-type`), remaining less the same difference |
//! | an Auto Scaling group over several availability zones launches each instance in the zone with the fewest of its instances; each container instance carries its zone (`ecs.availability-zone`) | puts every instance of one launch in one zone picked at random | [`StrictAws::balance_zones`] puts each new instance of a group in its zone with the fewest live instances (ties: the last by name, a pick the code under test cannot count on), [`StrictAws::set_availability_zone`] pins one; both show in `DescribeAutoScalingGroups`, `DescribeAutoScalingInstances` (`AvailabilityZone`) and `DescribeContainerInstances` (the attribute) answers |
//! | ECS `StartTask` of an `awsvpc` task definition places the task with an ENI of its own | refuses it (it ignores StartTask's network configuration) | [`StrictAws::set_network_mode`] shows a family registered as `bridge` (which moto starts) as `awsvpc` in `DescribeTaskDefinition` answers |
//! | a service keeps its `placementConstraints`, `placementStrategy` and `capacityProviderStrategy` | drops them (CreateService and DescribeServices) | [`StrictAws::set_service_member_of`], [`StrictAws::set_service_placement_strategy`] and [`StrictAws::set_service_capacity_providers`] add them to `DescribeServices` answers |
//! | an instance whose ECS agent lost its connection shows `agentConnected: false` | always `true` | [`StrictAws::set_agent_connected`] rewrites it in `DescribeContainerInstances` answers |
//! | ECS task scale-in protection: `UpdateTaskProtection` sets it per task (1 to 10 tasks, `expiresInMinutes` 1 to 2880, default 120), `GetTaskProtection` reads it; it lapses at its expiry; a stopped or unknown task is a failure | answers both with HTTP 500 (not implemented) | answers both itself, keeping each task's protection and expiry (on the proxy's clock, see [`StrictAws::advance`]); tasks are looked up in moto |
//!
//! It also injects faults like the executor's fault proxy ([`StrictAws::fail`]), and lets a
//! test change the world just before a call reaches moto ([`StrictAws::before_next`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use serde_json::{json, Value};

use crate::bed::sdk_config;
use crate::proxy::{error_answer, forward, json_answer, Answer, Handler, Proxy, Request};

/// How long SQS remembers a FIFO deduplication id.
pub const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(300);

/// ECS task scale-in protection lasts this long when `expiresInMinutes` is not given.
pub const DEFAULT_PROTECTION: Duration = Duration::from_secs(120 * 60);

/// Tasks per GetTaskProtection / UpdateTaskProtection call, at most.
pub const PROTECTION_TASKS_PER_CALL: usize = 10;

/// Something a test does to the world just before a request reaches moto.
type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A fault to answer instead of (or after) forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 with the protocol's throttling error.
    Throttle,
    /// HTTP 500, not forwarded.
    ServerError,
    /// HTTP 400 validation error, not forwarded.
    Validation,
    /// Forwarded (moto applies it), then the answer is replaced by a 500: a lost response.
    ServerErrorAfterForward,
}

impl Fault {
    /// The error answer in the request's protocol.
    fn answer(self, json: bool) -> Vec<u8> {
        let (status, json_code, query_code) = match self {
            Fault::Throttle => (400, "ThrottlingException", "Throttling"),
            Fault::Validation => (400, "InvalidParameterException", "ValidationError"),
            Fault::ServerError | Fault::ServerErrorAfterForward => {
                (500, "ServerException", "InternalFailure")
            }
        };
        error_answer(
            json,
            status,
            json_code,
            query_code,
            "injected by the test proxy",
        )
    }
}

/// Something the proxy did that AWS would have done and moto would not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictEvent {
    /// A FIFO message accepted and dropped as a duplicate.
    Deduplicated {
        /// The queue URL as sent.
        queue_url: String,
        /// The repeated deduplication id.
        deduplication_id: String,
    },
    /// A request refused as AWS refuses it.
    Refused {
        /// The operation.
        operation: String,
        /// AWS's message.
        message: String,
    },
    /// An EC2 instance Auto Scaling removed, and what died with it.
    InstanceTerminated {
        /// EC2 instance id.
        instance_id: String,
        /// The operation that removed it.
        by: String,
        /// Tasks that were running on it (stopped).
        tasks_stopped: usize,
    },
}

#[derive(Default)]
struct State {
    clock_offset: Duration,
    /// (queue URL, deduplication id) → when first forwarded.
    seen: HashMap<(String, String), SystemTime>,
    lifecycle: HashMap<String, String>,
    faults: HashMap<String, VecDeque<Fault>>,
    attempts: HashMap<String, usize>,
    forwarded: HashMap<String, usize>,
    events: Vec<StrictEvent>,
    /// Task ARN → when its scale-in protection lapses (proxy clock).
    protected: HashMap<String, SystemTime>,
    hooks: HashMap<String, VecDeque<Hook>>,
    /// GPUs every container instance registers (see [`StrictAws::set_gpus_per_instance`]).
    gpus_per_instance: Option<u32>,
    /// CPU and memory instances of a type register (see [`StrictAws::set_registered_for_type`]).
    registered_by_type: HashMap<String, (i64, i64)>,
    /// EC2 instance id → the availability zone it shows (see
    /// [`StrictAws::set_availability_zone`] and [`StrictAws::balance_zones`]).
    zones: HashMap<String, String>,
    /// Groups whose new instances are put in zones as Auto Scaling does.
    balanced: HashSet<String>,
    /// Task definition family → the network mode its answers show ([`StrictAws::set_network_mode`]).
    network_modes: HashMap<String, String>,
    /// Service name → fields its DescribeServices entries show besides moto's.
    service_fields: HashMap<String, serde_json::Map<String, Value>>,
    /// Container instance ARNs whose agent shows disconnected.
    disconnected: HashSet<String>,
}

struct Strict {
    state: Mutex<State>,
    /// Direct clients to moto, for the checks and side effects.
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
}

/// The running proxy; stopped when dropped.
pub struct StrictAws {
    proxy: Proxy,
    config: SdkConfig,
    strict: Arc<Strict>,
}

impl StrictAws {
    /// Starts the proxy in front of the moto server at `moto_endpoint` (`http://127.0.0.1:PORT`).
    pub async fn start(moto_endpoint: &str) -> Result<StrictAws> {
        let port: u16 = moto_endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .with_context(|| format!("no port in {moto_endpoint}"))?;
        let direct = sdk_config(moto_endpoint).await;
        let strict = Arc::new(Strict {
            state: Mutex::new(State::default()),
            ecs: aws_sdk_ecs::Client::new(&direct),
            autoscaling: aws_sdk_autoscaling::Client::new(&direct),
        });
        let proxy = Proxy::start(port, Arc::clone(&strict))
            .await
            .context("starting the strict proxy")?;
        let config = sdk_config(&proxy.endpoint).await;
        Ok(StrictAws {
            proxy,
            config,
            strict,
        })
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint(&self) -> &str {
        &self.proxy.endpoint
    }

    /// SDK configuration whose clients go through the proxy.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// Moves the proxy's clock forward (the deduplication window and task protection expiries
    /// are measured on it).
    pub fn advance(&self, by: Duration) {
        self.strict.lock().clock_offset += by;
    }

    /// Shows `instance_id` in `lifecycle_state` (e.g. `Terminating:Wait`) in every Auto
    /// Scaling answer from now on.
    pub fn set_lifecycle_state(&self, instance_id: &str, lifecycle_state: &str) {
        self.strict
            .lock()
            .lifecycle
            .insert(instance_id.to_owned(), lifecycle_state.to_owned());
    }

    /// DescribeTaskDefinition answers of `family` show `mode` (e.g. `awsvpc`) as its network
    /// mode from now on: register it as `bridge` without host ports, so that moto's StartTask
    /// (which refuses `awsvpc` tasks) starts it, and whoever reads through the proxy sees it
    /// as ECS would.
    pub fn set_network_mode(&self, family: &str, mode: &str) {
        self.strict
            .lock()
            .network_modes
            .insert(family.to_owned(), mode.to_owned());
    }

    /// DescribeServices answers show `service` with these `memberOf` placement constraints
    /// from now on (moto does not keep a service's constraints).
    pub fn set_service_member_of(&self, service: &str, expressions: &[&str]) {
        let constraints: Vec<Value> = expressions
            .iter()
            .map(|e| json!({"type": "memberOf", "expression": e}))
            .collect();
        self.set_service_field(service, "placementConstraints", json!(constraints));
    }

    /// DescribeServices answers show `service` with placement strategy `strategy` from now on
    /// (`(type, field)` entries, e.g. `("binpack", "memory")`; moto does not keep a service's
    /// strategy).
    pub fn set_service_placement_strategy(&self, service: &str, strategy: &[(&str, &str)]) {
        let entries: Vec<Value> = strategy
            .iter()
            .map(|(kind, field)| json!({"type": kind, "field": field}))
            .collect();
        self.set_service_field(service, "placementStrategy", json!(entries));
    }

    /// DescribeServices answers show `service` with a capacity provider strategy of
    /// `providers` (weight 1 each) and no launch type from now on, as ECS shows a service
    /// created with one (moto does not keep it).
    pub fn set_service_capacity_providers(&self, service: &str, providers: &[&str]) {
        let strategy: Vec<Value> = providers
            .iter()
            .map(|p| json!({"capacityProvider": p, "weight": 1, "base": 0}))
            .collect();
        self.set_service_field(service, "capacityProviderStrategy", json!(strategy));
        self.set_service_field(service, "launchType", Value::Null);
    }

    fn set_service_field(&self, service: &str, field: &str, value: Value) {
        self.strict
            .lock()
            .service_fields
            .entry(service.to_owned())
            .or_default()
            .insert(field.to_owned(), value);
    }

    /// DescribeContainerInstances answers show the agent of `container_instance_arn`
    /// connected or not from now on.
    pub fn set_agent_connected(&self, container_instance_arn: &str, connected: bool) {
        let mut s = self.strict.lock();
        if connected {
            s.disconnected.remove(container_instance_arn);
        } else {
            s.disconnected.insert(container_instance_arn.to_owned());
        }
    }

    /// Every container instance shows `gpus` registered GPUs in DescribeContainerInstances
    /// answers from now on (as an agent on a GPU instance registers them; moto ignores
    /// `totalResources`), and as remaining those its live tasks do not reserve
    /// (`resourceRequirements` of type GPU of their task definitions, read from moto).
    pub fn set_gpus_per_instance(&self, gpus: u32) {
        self.strict.lock().gpus_per_instance = Some(gpus);
    }

    /// Container instances of `instance_type` (their `ecs.instance-type` attribute) show `cpu`
    /// units and `memory` MiB registered in DescribeContainerInstances answers from now on (as
    /// the agent registers what the type has; moto gives every instance CPU 4096 / MEMORY 7482),
    /// and remaining what moto counts less the same difference (never below 0).
    pub fn set_registered_for_type(&self, instance_type: &str, cpu: u32, memory: u32) {
        self.strict.lock().registered_by_type.insert(
            instance_type.to_owned(),
            (i64::from(cpu), i64::from(memory)),
        );
    }

    /// Shows EC2 instance `instance_id` in availability zone `zone` from now on: in
    /// DescribeContainerInstances answers (its container instance's `ecs.availability-zone`
    /// attribute) and in Auto Scaling answers (`AvailabilityZone`). moto launches all the
    /// instances of one Auto Scaling activity in one zone picked at random, where AWS balances
    /// a group's instances across its zones (see [`StrictAws::balance_zones`]).
    pub fn set_availability_zone(&self, instance_id: &str, zone: &str) {
        self.strict
            .lock()
            .zones
            .insert(instance_id.to_owned(), zone.to_owned());
    }

    /// Puts every instance of Auto Scaling group `group` that has no zone yet in the zone of
    /// the group with the fewest of its live instances (not `Terminating` nor `Terminated`),
    /// one at a time in the group's order, from now on: Auto Scaling's rule ("attempting to
    /// launch new instances in the Availability Zone with the fewest instances"). On a tie
    /// AWS picks; the proxy takes the last zone by name. Answers show the zones as
    /// [`StrictAws::set_availability_zone`] does; an instance is placed when an answer first
    /// shows it, and a pin set later moves it.
    pub fn balance_zones(&self, group: &str) {
        self.strict.lock().balanced.insert(group.to_owned());
    }

    /// Answers the next `times` requests of `operation` with `fault`.
    pub fn fail(&self, operation: &str, fault: Fault, times: usize) {
        let mut state = self.strict.lock();
        let queue = state.faults.entry(operation.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// Runs `hook` just before the next request of `operation` is handled, once: a test's way of
    /// changing the world between two calls of the code under test (a task ECS places on an
    /// instance just before it is drained, say).
    pub fn before_next<F, Fut>(&self, operation: &str, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: Hook = Box::new(move || Box::pin(hook()));
        self.strict
            .lock()
            .hooks
            .entry(operation.to_owned())
            .or_default()
            .push_back(hook);
    }

    /// Whether task `arn` has scale-in protection now (on the proxy's clock).
    pub fn is_protected(&self, arn: &str) -> bool {
        let now = self.strict.now();
        self.strict
            .lock()
            .protected
            .get(arn)
            .is_some_and(|until| *until > now)
    }

    /// Requests of `operation` received (SDK attempts, retries included).
    pub fn attempts(&self, operation: &str) -> usize {
        self.strict
            .lock()
            .attempts
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Requests of `operation` that reached moto.
    pub fn forwarded(&self, operation: &str) -> usize {
        self.strict
            .lock()
            .forwarded
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Everything the proxy did that moto alone would not have, in order.
    pub fn events(&self) -> Vec<StrictEvent> {
        self.strict.lock().events.clone()
    }

    /// Tasks that died with instances Auto Scaling terminated.
    pub fn tasks_killed(&self) -> usize {
        self.events()
            .iter()
            .map(|e| match e {
                StrictEvent::InstanceTerminated { tasks_stopped, .. } => *tasks_stopped,
                _ => 0,
            })
            .sum()
    }

    /// FIFO messages dropped as duplicates.
    pub fn deduplicated(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| matches!(e, StrictEvent::Deduplicated { .. }))
            .count()
    }
}

impl Handler for Strict {
    fn handle(
        self: Arc<Self>,
        request: Request,
        upstream: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send>> {
        Box::pin(async move { self.answer(request, upstream).await })
    }
}

impl Strict {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> SystemTime {
        SystemTime::now() + self.lock().clock_offset
    }

    fn record(&self, event: StrictEvent) {
        self.lock().events.push(event);
    }

    async fn answer(&self, request: Request, upstream: u16) -> io::Result<Vec<u8>> {
        let operation = request.operation();
        let json = request.is_json();
        let fault = {
            let mut s = self.lock();
            *s.attempts.entry(operation.clone()).or_default() += 1;
            s.faults.get_mut(&operation).and_then(VecDeque::pop_front)
        };
        if let Some(f @ (Fault::Throttle | Fault::ServerError | Fault::Validation)) = fault {
            return Ok(f.answer(json));
        }
        let hook = self
            .lock()
            .hooks
            .get_mut(&operation)
            .and_then(VecDeque::pop_front);
        if let Some(hook) = hook {
            hook().await;
        }
        let answer = match operation.as_str() {
            "GetTaskProtection" | "UpdateTaskProtection" => self.task_protection(&request).await,
            "SendMessage" | "SendMessageBatch" => self.send_messages(&request, upstream).await?,
            "SetDesiredCapacity"
            | "UpdateAutoScalingGroup"
            | "TerminateInstanceInAutoScalingGroup" => {
                self.change_group(&operation, &request, upstream).await?
            }
            "DeleteAttributes" => self.delete_attributes(&request, upstream).await?,
            "DescribeContainerInstances" => {
                let raw = self.forward(&operation, &request, upstream).await?;
                let raw = self.add_gpus(raw).await?;
                let raw = self.resize_by_type(raw);
                self.place_in_zones().await?;
                let raw = self.rewrite_zones(raw);
                self.rewrite_agents(raw)
            }
            "DescribeServices" => {
                let raw = self.forward(&operation, &request, upstream).await?;
                self.rewrite_services(raw)
            }
            "DescribeTaskDefinition" => {
                let raw = self.forward(&operation, &request, upstream).await?;
                self.rewrite_network_mode(raw)
            }
            "DescribeAutoScalingGroups" | "DescribeAutoScalingInstances" => {
                let raw = self.forward(&operation, &request, upstream).await?;
                self.place_in_zones().await?;
                let raw = self.rewrite_group_zones(raw);
                self.rewrite_lifecycle(raw)
            }
            _ => self.forward(&operation, &request, upstream).await?,
        };
        if let Some(f @ Fault::ServerErrorAfterForward) = fault {
            return Ok(f.answer(json));
        }
        Ok(answer)
    }

    async fn forward(
        &self,
        operation: &str,
        request: &Request,
        upstream: u16,
    ) -> io::Result<Vec<u8>> {
        *self
            .lock()
            .forwarded
            .entry(operation.to_owned())
            .or_default() += 1;
        forward(upstream, request).await
    }

    /// SendMessage / SendMessageBatch with SQS's 5-minute FIFO deduplication window.
    async fn send_messages(&self, request: &Request, upstream: u16) -> io::Result<Vec<u8>> {
        let operation = request.operation();
        let Some(mut body) = request.json() else {
            return self.forward(&operation, request, upstream).await;
        };
        let queue_url = body["QueueUrl"].as_str().unwrap_or_default().to_owned();
        if !queue_url.ends_with(".fifo") {
            return self.forward(&operation, request, upstream).await;
        }
        let now = self.now();
        let is_duplicate = |id: &str| -> bool {
            let s = self.lock();
            s.seen
                .get(&(queue_url.clone(), id.to_owned()))
                .is_some_and(|at| {
                    now.duration_since(*at).unwrap_or_default() < DEDUPLICATION_WINDOW
                })
        };
        let dropped = |id: &str| StrictEvent::Deduplicated {
            queue_url: queue_url.clone(),
            deduplication_id: id.to_owned(),
        };

        if operation == "SendMessage" {
            let id = body["MessageDeduplicationId"].as_str().map(str::to_owned);
            if let Some(id) = id.as_deref().filter(|id| is_duplicate(id)) {
                self.record(dropped(id));
                return Ok(json_answer(&sent(id)));
            }
            let raw = self.forward(&operation, request, upstream).await?;
            if let (Some(id), 200) = (id, Answer::parse(&raw).status()) {
                self.lock().seen.insert((queue_url, id), now);
            }
            return Ok(raw);
        }

        // SendMessageBatch: duplicates are answered as successes, the rest forwarded.
        let entries = body["Entries"].as_array().cloned().unwrap_or_default();
        let (mut fresh, mut duplicates) = (Vec::new(), Vec::new());
        for entry in entries {
            match entry["MessageDeduplicationId"].as_str() {
                Some(id) if is_duplicate(id) => duplicates.push(entry),
                _ => fresh.push(entry),
            }
        }
        for entry in &duplicates {
            self.record(dropped(
                entry["MessageDeduplicationId"].as_str().unwrap_or_default(),
            ));
        }
        let duplicate_results: Vec<Value> = duplicates
            .iter()
            .map(|e| {
                let mut r = sent(e["MessageDeduplicationId"].as_str().unwrap_or_default());
                r["Id"] = e["Id"].clone();
                r
            })
            .collect();
        if fresh.is_empty() {
            return Ok(json_answer(
                &json!({"Successful": duplicate_results, "Failed": []}),
            ));
        }
        body["Entries"] = Value::Array(fresh.clone());
        let forwarded = request.with_body(body.to_string().into_bytes());
        let raw = self.forward(&operation, &forwarded, upstream).await?;
        let mut answer = Answer::parse(&raw);
        if answer.status() != 200 {
            return Ok(raw);
        }
        let mut result: Value = serde_json::from_slice(&answer.body).unwrap_or(json!({}));
        if let Some(ok) = result["Successful"].as_array() {
            let ids: HashSet<&str> = ok.iter().filter_map(|r| r["Id"].as_str()).collect();
            let mut s = self.lock();
            for entry in fresh
                .iter()
                .filter(|e| e["Id"].as_str().is_some_and(|i| ids.contains(i)))
            {
                if let Some(id) = entry["MessageDeduplicationId"].as_str() {
                    s.seen.insert((queue_url.clone(), id.to_owned()), now);
                }
            }
        }
        if !duplicate_results.is_empty() {
            if let Some(ok) = result["Successful"].as_array_mut() {
                ok.extend(duplicate_results);
            } else {
                result["Successful"] = Value::Array(duplicate_results);
            }
        }
        answer.body = result.to_string().into_bytes();
        Ok(answer.into_bytes())
    }

    /// ECS GetTaskProtection and UpdateTaskProtection, answered here (moto answers 500): each
    /// task's protection and expiry kept on the proxy's clock, tasks looked up in moto.
    async fn task_protection(&self, request: &Request) -> Vec<u8> {
        let invalid = |message: &str| {
            error_answer(
                true,
                400,
                "InvalidParameterException",
                "InvalidParameter",
                message,
            )
        };
        let Some(body) = request.json() else {
            return invalid("the request body is not JSON");
        };
        let cluster = body["cluster"].as_str().unwrap_or("default").to_owned();
        let tasks: Vec<String> = body["tasks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if tasks.is_empty() || tasks.len() > PROTECTION_TASKS_PER_CALL {
            return invalid("tasks must list between 1 and 10 tasks");
        }
        let update = request.operation() == "UpdateTaskProtection";
        let expires_in = match body["expiresInMinutes"].as_i64() {
            None => DEFAULT_PROTECTION,
            Some(m @ 1..=2880) => Duration::from_secs(u64::try_from(m).unwrap_or(1) * 60),
            Some(_) => return invalid("expiresInMinutes must be between 1 and 2880"),
        };
        let enable = body["protectionEnabled"].as_bool();
        if update && enable.is_none() {
            return invalid("protectionEnabled is required");
        }
        let described = match self
            .ecs
            .describe_tasks()
            .cluster(&cluster)
            .set_tasks(Some(tasks.clone()))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => return invalid(&format!("DescribeTasks: {e}")),
        };
        let now = self.now();
        let mut protected = Vec::new();
        let mut failures = Vec::new();
        for asked in &tasks {
            let found = described.tasks().iter().find(|t| {
                t.task_arn()
                    .is_some_and(|arn| arn == asked || arn.ends_with(&format!("/{asked}")))
            });
            let Some(task) = found else {
                failures.push(json!({"arn": asked, "reason": "MISSING"}));
                continue;
            };
            let arn = task.task_arn().unwrap_or_default().to_owned();
            if task.last_status() == Some("STOPPED") {
                failures.push(json!({
                    "arn": arn,
                    "reason": "TASK_NOT_VALID",
                    "detail": "The task is stopped."
                }));
                continue;
            }
            let mut state = self.lock();
            match enable {
                Some(true) => {
                    state.protected.insert(arn.clone(), now + expires_in);
                }
                Some(false) => {
                    state.protected.remove(&arn);
                }
                None => {}
            }
            let until = state.protected.get(&arn).copied().filter(|u| *u > now);
            protected.push(match until {
                Some(until) => json!({
                    "taskArn": arn,
                    "protectionEnabled": true,
                    "expirationDate": until
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs_f64(),
                }),
                None => json!({"taskArn": arn, "protectionEnabled": false}),
            });
        }
        json_answer(&json!({"protectedTasks": protected, "failures": failures}))
    }

    /// ECS DeleteAttributes as AWS does it: an attribute named without its value is deleted
    /// (moto deletes only on a matching value, so the value it has is filled in).
    async fn delete_attributes(&self, request: &Request, upstream: u16) -> io::Result<Vec<u8>> {
        let operation = request.operation();
        let Some(mut body) = request.json() else {
            return self.forward(&operation, request, upstream).await;
        };
        let cluster = body["cluster"].as_str().unwrap_or("default").to_owned();
        if let Some(attributes) = body["attributes"].as_array_mut() {
            for attribute in attributes.iter_mut() {
                if !attribute["value"].is_null() {
                    continue;
                }
                let (Some(name), Some(target)) =
                    (attribute["name"].as_str(), attribute["targetId"].as_str())
                else {
                    continue;
                };
                if let Some(value) = self.attribute_value(&cluster, target, name).await {
                    attribute["value"] = Value::String(value);
                }
            }
        }
        let forwarded = request.with_body(body.to_string().into_bytes());
        self.forward(&operation, &forwarded, upstream).await
    }

    /// The value of attribute `name` on container instance `target` (id or ARN), if any.
    async fn attribute_value(&self, cluster: &str, target: &str, name: &str) -> Option<String> {
        let out = self
            .ecs
            .describe_container_instances()
            .cluster(cluster)
            .container_instances(target)
            .send()
            .await
            .ok()?;
        out.container_instances()
            .first()?
            .attributes()
            .iter()
            .find(|a| a.name() == name)?
            .value()
            .map(str::to_owned)
    }

    /// Auto Scaling changes: AWS's validation first, then moto, then what dies with the
    /// instances the group removed.
    async fn change_group(
        &self,
        operation: &str,
        request: &Request,
        upstream: u16,
    ) -> io::Result<Vec<u8>> {
        let before = self.live_instances().await;
        if let Some(message) = self.refusal(operation, request).await {
            self.record(StrictEvent::Refused {
                operation: operation.to_owned(),
                message: message.clone(),
            });
            return Ok(error_answer(
                false,
                400,
                "ValidationError",
                "ValidationError",
                &message,
            ));
        }
        let raw = self.forward(operation, request, upstream).await?;
        if Answer::parse(&raw).status() == 200 {
            if let Ok(before) = before {
                let after = self.live_instances().await.unwrap_or_default();
                for gone in before.difference(&after) {
                    let tasks_stopped = self.instance_died(gone).await.unwrap_or(0);
                    self.record(StrictEvent::InstanceTerminated {
                        instance_id: gone.clone(),
                        by: operation.to_owned(),
                        tasks_stopped,
                    });
                }
            }
        }
        Ok(raw)
    }

    /// AWS's message when it refuses the change, else `None`.
    async fn refusal(&self, operation: &str, request: &Request) -> Option<String> {
        let number = |key: &str| request.form_value(key).and_then(|v| v.parse::<i64>().ok());
        match operation {
            "SetDesiredCapacity" => {
                let name = request.form_value("AutoScalingGroupName")?;
                let (min, max, _) = self.limits(&name).await?;
                let desired = number("DesiredCapacity")?;
                if desired > max {
                    Some(format!(
                        "New SetDesiredCapacity value {desired} is above max value {max} for the AutoScalingGroup."
                    ))
                } else if desired < min {
                    Some(format!(
                        "New SetDesiredCapacity value {desired} is below min value {min} for the AutoScalingGroup."
                    ))
                } else {
                    None
                }
            }
            "UpdateAutoScalingGroup" => {
                let name = request.form_value("AutoScalingGroupName")?;
                let (min, max, _) = self.limits(&name).await?;
                let min = number("MinSize").unwrap_or(min);
                let max = number("MaxSize").unwrap_or(max);
                if min > max {
                    return Some(format!(
                        "Max bound, {max}, must be greater than or equal to min bound, {min}"
                    ));
                }
                let desired = number("DesiredCapacity")?;
                (desired < min || desired > max).then(|| {
                    format!(
                        "Desired capacity:{desired} must be between the specified min size:{min} and max size:{max}"
                    )
                })
            }
            "TerminateInstanceInAutoScalingGroup" => {
                let decrement = request
                    .form_value("ShouldDecrementDesiredCapacity")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                let instance = request.form_value("InstanceId")?;
                let group = self.group_of(&instance).await?;
                let (min, _, desired) = self.limits(&group).await?;
                (decrement && desired <= min).then(|| {
                    format!(
                        "Currently, desiredSize equals minSize ({min}). Terminating instance without \
                         replacement will violate group's min size constraint. Either set \
                         shouldDecrementDesiredCapacity flag to false or lower group's min size."
                    )
                })
            }
            _ => None,
        }
    }

    /// (MinSize, MaxSize, DesiredCapacity) of a group.
    async fn limits(&self, group: &str) -> Option<(i64, i64, i64)> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .ok()?;
        let g = out.auto_scaling_groups().first()?;
        Some((
            i64::from(g.min_size()?),
            i64::from(g.max_size()?),
            i64::from(g.desired_capacity()?),
        ))
    }

    async fn group_of(&self, instance_id: &str) -> Option<String> {
        let out = self
            .autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .ok()?;
        out.auto_scaling_instances()
            .first()?
            .auto_scaling_group_name()
            .map(str::to_owned)
    }

    /// Every instance of every group that is not on its way out.
    async fn live_instances(&self) -> Result<HashSet<String>> {
        let mut live = HashSet::new();
        let mut pages = self
            .autoscaling
            .describe_auto_scaling_instances()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for i in page
                .context("DescribeAutoScalingInstances")?
                .auto_scaling_instances()
            {
                let state = i.lifecycle_state().unwrap_or_default();
                if !(state.starts_with("Terminat") || state.starts_with("Detach")) {
                    live.insert(i.instance_id().unwrap_or_default().to_owned());
                }
            }
        }
        Ok(live)
    }

    /// What ECS does when an EC2 instance dies: its tasks stop and its container instance is
    /// deregistered. Returns the tasks stopped.
    async fn instance_died(&self, instance_id: &str) -> Result<usize> {
        let clusters = self
            .ecs
            .list_clusters()
            .send()
            .await
            .context("ListClusters")?
            .cluster_arns()
            .to_vec();
        let mut stopped = 0;
        for cluster in clusters {
            let arns = self
                .ecs
                .list_container_instances()
                .cluster(&cluster)
                .send()
                .await
                .context("ListContainerInstances")?
                .container_instance_arns()
                .to_vec();
            if arns.is_empty() {
                continue;
            }
            let described = self
                .ecs
                .describe_container_instances()
                .cluster(&cluster)
                .set_container_instances(Some(arns))
                .send()
                .await
                .context("DescribeContainerInstances")?;
            for ci in described.container_instances() {
                if ci.ec2_instance_id() != Some(instance_id) {
                    continue;
                }
                let arn = ci.container_instance_arn().unwrap_or_default();
                let tasks = self
                    .ecs
                    .list_tasks()
                    .cluster(&cluster)
                    .container_instance(arn)
                    .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
                    .send()
                    .await
                    .context("ListTasks")?
                    .task_arns()
                    .to_vec();
                if !tasks.is_empty() {
                    let live = self
                        .ecs
                        .describe_tasks()
                        .cluster(&cluster)
                        .set_tasks(Some(tasks))
                        .send()
                        .await
                        .context("DescribeTasks")?;
                    for t in live.tasks() {
                        if t.container_instance_arn() != Some(arn)
                            || t.cluster_arn() != Some(cluster.as_str())
                            || t.last_status() == Some("STOPPED")
                        {
                            continue;
                        }
                        self.ecs
                            .stop_task()
                            .cluster(&cluster)
                            .task(t.task_arn().unwrap_or_default())
                            .reason("the EC2 instance was terminated by Auto Scaling (test bed)")
                            .send()
                            .await
                            .context("StopTask")?;
                        stopped += 1;
                    }
                }
                self.ecs
                    .deregister_container_instance()
                    .cluster(&cluster)
                    .container_instance(arn)
                    .force(true)
                    .send()
                    .await
                    .context("DeregisterContainerInstance")?;
            }
        }
        Ok(stopped)
    }

    /// Adds the GPUs of [`StrictAws::set_gpus_per_instance`] to a DescribeContainerInstances
    /// answer: `GPU` string sets of ids, registered all of them, remaining those no live task
    /// on the instance reserves.
    async fn add_gpus(&self, raw: Vec<u8>) -> io::Result<Vec<u8>> {
        let Some(gpus) = self.lock().gpus_per_instance else {
            return Ok(raw);
        };
        let mut answer = Answer::parse(&raw);
        let Ok(mut body) = serde_json::from_slice::<Value>(&answer.body) else {
            return Ok(raw);
        };
        let Some(instances) = body
            .get_mut("containerInstances")
            .and_then(Value::as_array_mut)
        else {
            return Ok(raw);
        };
        for ci in instances {
            let arn = ci["containerInstanceArn"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let used = self.gpus_used(&arn).await.map_err(io::Error::other)?;
            let ids = |n: u32| -> Vec<String> { (0..n).map(|k| format!("GPU-{k:04}")).collect() };
            let resource =
                |n: u32| json!({"name": "GPU", "type": "STRINGSET", "stringSetValue": ids(n)});
            for (field, n) in [
                ("registeredResources", gpus),
                ("remainingResources", gpus.saturating_sub(used)),
            ] {
                if let Some(list) = ci.get_mut(field).and_then(Value::as_array_mut) {
                    list.push(resource(n));
                }
            }
        }
        answer.body = serde_json::to_vec(&body).map_err(io::Error::other)?;
        Ok(answer.into_bytes())
    }

    /// Applies [`StrictAws::set_registered_for_type`] to a DescribeContainerInstances answer.
    fn resize_by_type(&self, raw: Vec<u8>) -> Vec<u8> {
        let sizes = self.lock().registered_by_type.clone();
        if sizes.is_empty() {
            return raw;
        }
        Self::edit_container_instances(raw, |ci| {
            let instance_type = ci["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["name"] == "ecs.instance-type")
                .and_then(|a| a["value"].as_str())
                .unwrap_or_default()
                .to_owned();
            let Some(&(cpu, memory)) = sizes.get(&instance_type) else {
                return;
            };
            for (name, size) in [("CPU", cpu), ("MEMORY", memory)] {
                let amount = |ci: &Value, field: &str| -> Option<i64> {
                    ci[field].as_array()?.iter().find(|r| r["name"] == name)?["integerValue"]
                        .as_i64()
                };
                let Some(moto) = amount(ci, "registeredResources") else {
                    continue;
                };
                let remaining = amount(ci, "remainingResources").unwrap_or(moto);
                for (field, value) in [
                    ("registeredResources", size),
                    ("remainingResources", (remaining - (moto - size)).max(0)),
                ] {
                    if let Some(r) = ci[field]
                        .as_array_mut()
                        .and_then(|l| l.iter_mut().find(|r| r["name"] == name))
                    {
                        r["integerValue"] = json!(value);
                    }
                }
            }
        })
    }

    /// Sets the zones of [`StrictAws::set_availability_zone`] in a DescribeContainerInstances
    /// answer (the `ecs.availability-zone` attribute, replaced or added).
    fn rewrite_zones(&self, raw: Vec<u8>) -> Vec<u8> {
        const ZONE: &str = "ecs.availability-zone";
        let zones = self.lock().zones.clone();
        if zones.is_empty() {
            return raw;
        }
        Self::edit_container_instances(raw, |ci| {
            let Some(ci) = ci.as_object_mut() else {
                return;
            };
            let Some(zone) = ci
                .get("ec2InstanceId")
                .and_then(Value::as_str)
                .and_then(|id| zones.get(id))
            else {
                return;
            };
            let attribute = json!({"name": ZONE, "value": zone});
            match ci.get_mut("attributes").and_then(Value::as_array_mut) {
                Some(list) => {
                    list.retain(|a| a.get("name").and_then(Value::as_str) != Some(ZONE));
                    list.push(attribute);
                }
                None => {
                    ci.insert("attributes".into(), json!([attribute]));
                }
            }
        })
    }

    /// GPUs the live tasks on a container instance reserve.
    async fn gpus_used(&self, container_instance_arn: &str) -> Result<u32> {
        // Long ARN: `...:container-instance/CLUSTER/ID`.
        let cluster = container_instance_arn
            .rsplit('/')
            .nth(1)
            .context("a container instance ARN without its cluster")?;
        let filter = shared::aws::read::TaskFilter {
            container_instance: Some(container_instance_arn),
            ..Default::default()
        };
        let arns = shared::aws::read::list_tasks(&self.ecs, cluster, filter)
            .await
            .context("ListTasks")?;
        let tasks = shared::aws::read::describe_tasks(&self.ecs, cluster, &arns)
            .await
            .context("DescribeTasks")?;
        let mut used = 0u32;
        for t in &tasks.found {
            if t.last_status() == Some("STOPPED") {
                continue;
            }
            let Some(td) = t.task_definition_arn() else {
                continue;
            };
            let out = self
                .ecs
                .describe_task_definition()
                .task_definition(td)
                .send()
                .await
                .context("DescribeTaskDefinition")?;
            if let Some(td) = out.task_definition() {
                used += crate::scheduler::ask(td)?.gpus;
            }
        }
        Ok(used)
    }

    /// Applies `edit` to every container instance of a DescribeContainerInstances answer (the
    /// answer unchanged when it is not JSON).
    fn edit_container_instances(raw: Vec<u8>, mut edit: impl FnMut(&mut Value)) -> Vec<u8> {
        Self::edit_json(raw, |body| {
            if let Some(instances) = body
                .get_mut("containerInstances")
                .and_then(Value::as_array_mut)
            {
                instances.iter_mut().for_each(&mut edit);
            }
        })
    }

    /// Edits the JSON body of an answer with `edit` (the answer unchanged when it is not JSON).
    fn edit_json(raw: Vec<u8>, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut answer = Answer::parse(&raw);
        let Ok(mut body) = serde_json::from_slice::<Value>(&answer.body) else {
            return raw;
        };
        edit(&mut body);
        match serde_json::to_vec(&body) {
            Ok(bytes) => {
                answer.body = bytes;
                answer.into_bytes()
            }
            Err(_) => raw,
        }
    }

    /// Adds the fields of [`StrictAws::set_service_member_of`] and
    /// [`StrictAws::set_service_capacity_providers`] to a DescribeServices answer (a null
    /// value removes the field).
    fn rewrite_services(&self, raw: Vec<u8>) -> Vec<u8> {
        let fields = self.lock().service_fields.clone();
        if fields.is_empty() {
            return raw;
        }
        Self::edit_json(raw, |body| {
            let Some(services) = body.get_mut("services").and_then(Value::as_array_mut) else {
                return;
            };
            for service in services.iter_mut() {
                let Some(extra) = service["serviceName"].as_str().and_then(|n| fields.get(n))
                else {
                    continue;
                };
                let Some(entry) = service.as_object_mut() else {
                    continue;
                };
                for (field, value) in extra {
                    if value.is_null() {
                        entry.remove(field);
                    } else {
                        entry.insert(field.clone(), value.clone());
                    }
                }
            }
        })
    }

    /// Sets `agentConnected` false for the instances of [`StrictAws::set_agent_connected`].
    fn rewrite_agents(&self, raw: Vec<u8>) -> Vec<u8> {
        let disconnected = self.lock().disconnected.clone();
        if disconnected.is_empty() {
            return raw;
        }
        Self::edit_container_instances(raw, |ci| {
            if let Some(ci) = ci.as_object_mut() {
                if ci
                    .get("containerInstanceArn")
                    .and_then(Value::as_str)
                    .is_some_and(|arn| disconnected.contains(arn))
                {
                    ci.insert("agentConnected".into(), json!(false));
                }
            }
        })
    }

    /// Sets `networkMode` of a DescribeTaskDefinition answer whose family has an override.
    fn rewrite_network_mode(&self, raw: Vec<u8>) -> Vec<u8> {
        let modes = self.lock().network_modes.clone();
        if modes.is_empty() {
            return raw;
        }
        Self::edit_json(raw, |body| {
            let Some(td) = body
                .get_mut("taskDefinition")
                .and_then(Value::as_object_mut)
            else {
                return;
            };
            if let Some(mode) = td
                .get("family")
                .and_then(Value::as_str)
                .and_then(|f| modes.get(f))
            {
                td.insert("networkMode".into(), json!(mode));
            }
        })
    }

    /// Places the instances of the groups of [`StrictAws::balance_zones`] that have no zone
    /// yet (read from moto), by Auto Scaling's rule.
    async fn place_in_zones(&self) -> io::Result<()> {
        let groups: Vec<String> = self.lock().balanced.iter().cloned().collect();
        for name in groups {
            let group = shared::aws::read::describe_group(&self.autoscaling, &name)
                .await
                .map_err(|e| io::Error::other(format!("DescribeAutoScalingGroups {name}: {e}")))?;
            let Some(group) = group else { continue };
            let mut zones: Vec<String> = group.availability_zones().to_vec();
            zones.sort();
            let mut s = self.lock();
            let live: Vec<&str> = group
                .instances()
                .iter()
                .filter(|i| {
                    !i.lifecycle_state()
                        .is_some_and(|l| l.as_str().starts_with("Terminat"))
                })
                .filter_map(|i| i.instance_id())
                .collect();
            for id in &live {
                if s.zones.contains_key(*id) {
                    continue;
                }
                let count = |z: &str, s: &State| {
                    live.iter()
                        .filter(|other| s.zones.get(**other).is_some_and(|x| x == z))
                        .count()
                };
                // Fewest first; on a tie the last by name (`max_by_key` keeps the last maximum).
                let pick = zones
                    .iter()
                    .max_by_key(|z| std::cmp::Reverse(count(z, &s)))
                    .cloned();
                if let Some(zone) = pick {
                    s.zones.insert((*id).to_owned(), zone);
                }
            }
        }
        Ok(())
    }

    /// Sets `<AvailabilityZone>` of the instances with a zone (see
    /// [`StrictAws::set_availability_zone`]) in an Auto Scaling answer.
    fn rewrite_group_zones(&self, raw: Vec<u8>) -> Vec<u8> {
        let zones = self.lock().zones.clone();
        set_instance_fields(raw, &zones, "AvailabilityZone")
    }

    /// Replaces `<LifecycleState>` of the overridden instances in an Auto Scaling answer.
    fn rewrite_lifecycle(&self, raw: Vec<u8>) -> Vec<u8> {
        let overrides = self.lock().lifecycle.clone();
        set_instance_fields(raw, &overrides, "LifecycleState")
    }
}

/// In an Auto Scaling answer, sets the element `field` of each instance of `values` (EC2
/// instance id → value).
fn set_instance_fields(raw: Vec<u8>, values: &HashMap<String, String>, field: &str) -> Vec<u8> {
    if values.is_empty() {
        return raw;
    }
    let mut answer = Answer::parse(&raw);
    let mut xml = String::from_utf8_lossy(&answer.body).into_owned();
    for (id, value) in values {
        xml = set_member_field(
            &xml,
            &format!("<InstanceId>{id}</InstanceId>"),
            field,
            value,
        );
    }
    answer.body = xml.into_bytes();
    answer.into_bytes()
}

/// In every `<member>` holding `marker`, sets the element `field` to `value`.
fn set_member_field(xml: &str, marker: &str, field: &str, value: &str) -> String {
    let (open, close) = (format!("<{field}>"), format!("</{field}>"));
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find(marker) {
        let start = rest[..at].rfind("<member>").unwrap_or(0);
        let end = rest[at..].find("</member>").map_or(rest.len(), |e| at + e);
        out.push_str(&rest[..start]);
        let member = &rest[start..end];
        match (member.find(&open), member.find(&close)) {
            (Some(a), Some(b)) if a < b => {
                out.push_str(&member[..a + open.len()]);
                out.push_str(value);
                out.push_str(&member[b..]);
            }
            _ => out.push_str(member),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// SQS's answer to a send (the MD5 is not computed: no SDK client checks it).
fn sent(deduplication_id: &str) -> Value {
    json!({
        "MessageId": format!("deduplicated-{deduplication_id}"),
        "MD5OfMessageBody": "00000000000000000000000000000000",
        "SequenceNumber": "0",
    })
}

#[cfg(test)]
mod tests {
    use super::set_member_field;

    #[test]
    fn lifecycle_is_set_only_in_the_instances_member() {
        let xml = "<Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState></member>\
                   <member><LifecycleState>InService</LifecycleState><InstanceId>i-2</InstanceId></member></Instances>";
        let out = set_member_field(
            xml,
            "<InstanceId>i-2</InstanceId>",
            "LifecycleState",
            "Terminating:Wait",
        );
        assert!(
            out.contains("<InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>")
        );
        assert!(out.contains(
            "<LifecycleState>Terminating:Wait</LifecycleState><InstanceId>i-2</InstanceId>"
        ));
        assert_eq!(
            out.len(),
            xml.len() + "Terminating:Wait".len() - "InService".len()
        );
    }
}
