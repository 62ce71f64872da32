//! The strict layer behaves as AWS does where moto is lenient; each test shows moto's leniency
//! on the direct clients next to AWS's behaviour through the proxy.

use std::time::Duration;

use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use testbed::messaging::{self, QueueKind};
use testbed::strict::{StrictAws, StrictEvent, DEDUPLICATION_WINDOW};
use testbed::world::{self, GroupSpec};
use testbed::{scheduler, TestBed};

async fn strict(bed: &TestBed) -> StrictAws {
    StrictAws::start(bed.endpoint())
        .await
        .expect("strict proxy")
}

async fn send(sqs: &aws_sdk_sqs::Client, url: &str, body: &str, dedup: &str) {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id("g")
        .message_deduplication_id(dedup)
        .send()
        .await
        .expect("SendMessage is accepted");
}

#[tokio::test]
async fn fifo_deduplication_lasts_five_minutes_after_the_first_send() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_sqs::Client::new(strict.sdk_config());
    let url = messaging::create_queue(bed.sqs(), "plans.fifo", QueueKind::Fifo)
        .await
        .expect("queue");

    // moto alone: once the first message is received and deleted, the same id is delivered again.
    send(bed.sqs(), &url, "one", "same").await;
    assert_eq!(
        messaging::receive_bodies(bed.sqs(), &url).await.unwrap(),
        ["one"]
    );
    send(bed.sqs(), &url, "two", "same").await;
    assert_eq!(
        messaging::receive_bodies(bed.sqs(), &url).await.unwrap(),
        ["two"]
    );

    // AWS: accepted, and not delivered, for five minutes after the first send.
    send(&via, &url, "three", "again").await;
    assert_eq!(
        messaging::receive_bodies(bed.sqs(), &url).await.unwrap(),
        ["three"]
    );
    send(&via, &url, "four", "again").await;
    assert!(messaging::receive_bodies(bed.sqs(), &url)
        .await
        .unwrap()
        .is_empty());
    strict.advance(DEDUPLICATION_WINDOW - Duration::from_secs(1));
    send(&via, &url, "five", "again").await;
    assert!(messaging::receive_bodies(bed.sqs(), &url)
        .await
        .unwrap()
        .is_empty());
    strict.advance(Duration::from_secs(2));
    send(&via, &url, "six", "again").await;
    assert_eq!(
        messaging::receive_bodies(bed.sqs(), &url).await.unwrap(),
        ["six"]
    );
    assert_eq!(strict.deduplicated(), 2);

    // Batches: the repeated entry is answered as sent and dropped, the new one delivered.
    let out = via
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("seven")
                .message_group_id("g")
                .message_deduplication_id("again")
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("b")
                .message_body("eight")
                .message_group_id("g")
                .message_deduplication_id("new")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("batch");
    assert_eq!(out.successful().len(), 2);
    assert!(out.failed().is_empty());
    assert_eq!(
        messaging::receive_bodies(bed.sqs(), &url).await.unwrap(),
        ["eight"]
    );

    // Standard queues have no deduplication.
    let standard = messaging::create_queue(bed.sqs(), "metrics", QueueKind::Standard)
        .await
        .expect("queue");
    for body in ["x", "y"] {
        via.send_message()
            .queue_url(&standard)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }
    assert_eq!(
        messaging::receive_bodies(bed.sqs(), &standard)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// One ReceiveMessage of at most one message; its body and receipt handle.
async fn receive_one(sqs: &aws_sdk_sqs::Client, url: &str) -> Option<(String, String)> {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(1)
        .wait_time_seconds(0)
        .send()
        .await
        .expect("ReceiveMessage");
    out.messages().first().map(|m| {
        (
            m.body().unwrap_or_default().to_owned(),
            m.receipt_handle().unwrap_or_default().to_owned(),
        )
    })
}

/// AWS holds back a FIFO message group while one of its messages is in flight, which is what
/// serializes the planning of one cluster. moto 5.2.5 does it too, so the proxy adds no rule
/// for it; this test keeps it that way (through the proxy, as the code under test sees it).
#[tokio::test]
async fn a_fifo_message_group_is_held_while_one_of_its_messages_is_in_flight() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_sqs::Client::new(strict.sdk_config());
    let url = messaging::create_queue(bed.sqs(), "metrics.fifo", QueueKind::Fifo)
        .await
        .expect("queue");
    for (body, group) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
        via.send_message()
            .queue_url(&url)
            .message_body(body)
            .message_group_id(group)
            .message_deduplication_id(body)
            .send()
            .await
            .expect("SendMessage");
    }
    // Two receivers: the second gets b1, not a2, while a1 is in flight.
    let (first, a1) = receive_one(&via, &url).await.expect("a1");
    assert_eq!(first, "a1");
    let (second, b1) = receive_one(&via, &url).await.expect("b1");
    assert_eq!(second, "b1", "group a is held while a1 is in flight");
    assert_eq!(receive_one(&via, &url).await, None, "a2 waits for a1");
    for handle in [a1, b1] {
        via.delete_message()
            .queue_url(&url)
            .receipt_handle(handle)
            .send()
            .await
            .expect("DeleteMessage");
    }
    let (third, _) = receive_one(&via, &url).await.expect("a2");
    assert_eq!(third, "a2", "a's next message once a1 is done");

    // A standard queue holds nothing back: two receivers get two messages of one "group".
    let standard = messaging::create_queue(bed.sqs(), "metrics", QueueKind::Standard)
        .await
        .expect("queue");
    for body in ["a1", "a2"] {
        via.send_message()
            .queue_url(&standard)
            .message_body(body)
            .send()
            .await
            .expect("SendMessage");
    }
    assert!(receive_one(&via, &standard).await.is_some());
    assert!(receive_one(&via, &standard).await.is_some());
}

#[tokio::test]
async fn auto_scaling_refuses_what_aws_refuses() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_autoscaling::Client::new(strict.sdk_config());
    world::create_cluster(bed.ecs(), "limits")
        .await
        .expect("cluster");
    world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        "limits",
        &GroupSpec::new("limits-asg", 2).min(2).max(4),
    )
    .await
    .expect("group");

    // moto alone accepts a desired capacity above the max.
    bed.autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("limits-asg")
        .desired_capacity(5)
        .send()
        .await
        .expect("moto accepts it");
    bed.autoscaling()
        .set_desired_capacity()
        .auto_scaling_group_name("limits-asg")
        .desired_capacity(2)
        .send()
        .await
        .expect("back to 2");

    let err = via
        .set_desired_capacity()
        .auto_scaling_group_name("limits-asg")
        .desired_capacity(5)
        .send()
        .await
        .expect_err("above max");
    assert_eq!(err.code(), Some("ValidationError"));
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("above max value 4"),
        "{err:?}"
    );
    let err = via
        .set_desired_capacity()
        .auto_scaling_group_name("limits-asg")
        .desired_capacity(1)
        .send()
        .await
        .expect_err("below min");
    assert!(err
        .message()
        .unwrap_or_default()
        .contains("below min value 2"));
    let err = via
        .update_auto_scaling_group()
        .auto_scaling_group_name("limits-asg")
        .min_size(5)
        .max_size(3)
        .send()
        .await
        .expect_err("min above max");
    assert_eq!(err.code(), Some("ValidationError"));
    let members = world::group_instance_ids(bed.autoscaling(), "limits-asg")
        .await
        .expect("members");
    let err = via
        .terminate_instance_in_auto_scaling_group()
        .instance_id(&members[0])
        .should_decrement_desired_capacity(true)
        .send()
        .await
        .expect_err("at min");
    assert!(
        err.message()
            .unwrap_or_default()
            .contains("min size constraint"),
        "{err:?}"
    );
    // Within the limits it goes through.
    via.set_desired_capacity()
        .auto_scaling_group_name("limits-asg")
        .desired_capacity(3)
        .send()
        .await
        .expect("within limits");
    assert_eq!(
        strict
            .events()
            .iter()
            .filter(|e| matches!(e, StrictEvent::Refused { .. }))
            .count(),
        4
    );
}

#[tokio::test]
async fn lowering_max_below_desired_kills_instances_and_their_tasks() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_autoscaling::Client::new(strict.sdk_config());
    let (ecs, asg) = (bed.ecs(), bed.autoscaling());
    world::create_cluster(ecs, "busy").await.expect("cluster");
    world::create_group(asg, ecs, "busy", &GroupSpec::new("busy-asg", 4).max(6))
        .await
        .expect("group");
    let td = world::register_task_definition(ecs, "web", 2048, 1536)
        .await
        .expect("task definition");
    world::create_service(ecs, "busy", "web", &td, 8)
        .await
        .expect("service");
    assert!(bed.converge("busy").await.expect("converge").is_converged());

    via.update_auto_scaling_group()
        .auto_scaling_group_name("busy-asg")
        .max_size(2)
        .send()
        .await
        .expect("AWS accepts a lower max");

    let terminated: Vec<_> = strict
        .events()
        .into_iter()
        .filter(|e| matches!(e, StrictEvent::InstanceTerminated { .. }))
        .collect();
    assert_eq!(terminated.len(), 2, "{:?}", strict.events());
    assert_eq!(
        strict.tasks_killed(),
        4,
        "two tasks died with each instance"
    );
    let left = scheduler::tasks_per_instance(ecs, "busy")
        .await
        .expect("tasks");
    assert_eq!(left.values().sum::<usize>(), 4);
    assert_eq!(left.len(), 2);
    let registered = world::registered_instances(ecs, "busy")
        .await
        .expect("instances");
    assert_eq!(registered.len(), 2, "ECS deregistered the dead instances");
}

#[tokio::test]
async fn lifecycle_states_can_be_set_on_the_wire() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_autoscaling::Client::new(strict.sdk_config());
    world::create_cluster(bed.ecs(), "hooks")
        .await
        .expect("cluster");
    let group = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        "hooks",
        &GroupSpec::new("hooks-asg", 2),
    )
    .await
    .expect("group");
    let id = group.instances[1].instance_id.clone();
    strict.set_lifecycle_state(&id, "Terminating:Wait");

    let out = via
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("hooks-asg")
        .send()
        .await
        .expect("describe");
    let states: Vec<(String, String)> = out.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| {
            (
                i.instance_id().unwrap_or_default().to_owned(),
                i.lifecycle_state()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    for (instance, state) in &states {
        let expected = if *instance == id {
            "Terminating:Wait"
        } else {
            "InService"
        };
        assert_eq!(state, expected, "{states:?}");
    }
    let out = via
        .describe_auto_scaling_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("describe instances");
    assert_eq!(
        out.auto_scaling_instances()[0].lifecycle_state(),
        Some("Terminating:Wait")
    );
}

#[tokio::test]
async fn a_groups_instances_are_balanced_across_its_zones() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    strict.balance_zones("zones-asg");
    let via = aws_sdk_autoscaling::Client::new(strict.sdk_config());
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    world::create_cluster(bed.ecs(), "zones")
        .await
        .expect("cluster");
    let group = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        "zones",
        &GroupSpec::new("zones-asg", 2).zones(&zones),
    )
    .await
    .expect("group");
    // Both in us-east-1a: the next ones go to b and c, then a tie of three.
    for i in &group.instances {
        strict.set_availability_zone(&i.instance_id, "us-east-1a");
    }
    let zones_of = |g: &aws_sdk_autoscaling::types::AutoScalingGroup| -> Vec<String> {
        let mut z: Vec<String> = g
            .instances()
            .iter()
            .map(|i| i.availability_zone().unwrap_or_default().to_owned())
            .collect();
        z.sort();
        z
    };
    via.set_desired_capacity()
        .auto_scaling_group_name("zones-asg")
        .desired_capacity(5)
        .send()
        .await
        .expect("launch three");
    let group = |client: aws_sdk_autoscaling::Client| async move {
        client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("zones-asg")
            .send()
            .await
            .expect("describe")
            .auto_scaling_groups()[0]
            .clone()
    };
    let seen = zones_of(&group(via.clone()).await);
    // Each launch to a zone with the fewest: none to a (2, 0, 0 → 2, 1, 1 → 2, 2, 1 or 2, 1, 2).
    let per: Vec<usize> = zones
        .iter()
        .map(|z| seen.iter().filter(|x| x == z).count())
        .collect();
    assert_eq!(per[0], 2, "{seen:?}");
    assert_eq!(per[1] + per[2], 3, "{seen:?}");
    assert!(per[1].abs_diff(per[2]) == 1, "{seen:?}");
    // moto itself put the whole launch in one zone.
    let moto = zones_of(&group(bed.autoscaling().clone()).await);
    assert!(
        moto.windows(2).filter(|w| w[0] != w[1]).count() <= 1,
        "moto: {moto:?}"
    );
    // The container instances show the same zones.
    world::register_group_instances(bed.autoscaling(), bed.ecs(), "zones", "zones-asg")
        .await
        .expect("register");
    let ecs = aws_sdk_ecs::Client::new(strict.sdk_config());
    let mut shown: Vec<String> = scheduler::container_instances(&ecs, "zones")
        .await
        .expect("container instances")
        .iter()
        .filter_map(|ci| {
            ci.placement
                .attribute("ecs.availability-zone")
                .map(str::to_owned)
        })
        .collect();
    shown.sort();
    assert_eq!(shown, seen);
}

#[tokio::test]
async fn delete_attributes_needs_no_value_as_on_aws() {
    use aws_sdk_ecs::types::{Attribute, TargetType};
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_ecs::Client::new(strict.sdk_config());
    world::create_cluster(bed.ecs(), "attrs")
        .await
        .expect("cluster");
    let group = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        "attrs",
        &GroupSpec::new("attrs-asg", 1),
    )
    .await
    .expect("group");
    let arn = group.instances[0].container_instance_arn.clone();
    let id = arn.rsplit('/').next().expect("an id").to_owned();
    let attribute = |value: Option<&str>| {
        Attribute::builder()
            .name("owner")
            .set_value(value.map(str::to_owned))
            .target_type(TargetType::ContainerInstance)
            .target_id(&id)
            .build()
            .expect("attribute")
    };
    let value = |ecs: aws_sdk_ecs::Client| {
        let arn = arn.clone();
        async move {
            let out = ecs
                .describe_container_instances()
                .cluster("attrs")
                .container_instances(arn)
                .send()
                .await
                .expect("describe");
            out.container_instances()[0]
                .attributes()
                .iter()
                .find(|a| a.name() == "owner")
                .and_then(|a| a.value().map(str::to_owned))
        }
    };
    bed.ecs()
        .put_attributes()
        .cluster("attrs")
        .attributes(attribute(Some("us")))
        .send()
        .await
        .expect("put");
    assert_eq!(value(bed.ecs().clone()).await.as_deref(), Some("us"));

    // moto alone: without the value, nothing is deleted.
    bed.ecs()
        .delete_attributes()
        .cluster("attrs")
        .attributes(attribute(None))
        .send()
        .await
        .expect("moto answers");
    assert_eq!(value(bed.ecs().clone()).await.as_deref(), Some("us"));

    // AWS: the name and the target are enough.
    via.delete_attributes()
        .cluster("attrs")
        .attributes(attribute(None))
        .send()
        .await
        .expect("delete");
    assert_eq!(value(bed.ecs().clone()).await, None);
}

#[tokio::test]
async fn task_protection_is_answered_on_the_wire_with_its_expiry() {
    let bed = TestBed::start().await;
    let strict = strict(&bed).await;
    let via = aws_sdk_ecs::Client::new(strict.sdk_config());
    world::create_cluster(bed.ecs(), "prot")
        .await
        .expect("cluster");
    let group = world::create_group(
        bed.autoscaling(),
        bed.ecs(),
        "prot",
        &GroupSpec::new("prot-asg", 1),
    )
    .await
    .expect("group");
    let td = world::register_task_definition(bed.ecs(), "worker", 256, 256)
        .await
        .expect("task definition");
    world::create_service(bed.ecs(), "prot", "worker", &td, 2)
        .await
        .expect("service");
    let on = group.instances[0].container_instance_arn.clone();
    let tasks = world::start_service_tasks(bed.ecs(), "prot", "worker", &[on.clone(), on])
        .await
        .expect("tasks");
    let (kept, other) = (tasks[0].clone(), tasks[1].clone());

    // moto alone: not implemented (an error, whatever its retries).
    assert!(bed
        .ecs()
        .get_task_protection()
        .cluster("prot")
        .tasks(&kept)
        .send()
        .await
        .is_err());

    // AWS: protection set on one task for 60 minutes, read back on both.
    let set = via
        .update_task_protection()
        .cluster("prot")
        .tasks(&kept)
        .protection_enabled(true)
        .expires_in_minutes(60)
        .send()
        .await
        .expect("UpdateTaskProtection");
    assert!(set.failures().is_empty(), "{set:?}");
    assert!(set.protected_tasks()[0].protection_enabled());
    let read = |tasks: Vec<String>| {
        let via = via.clone();
        async move {
            let out = via
                .get_task_protection()
                .cluster("prot")
                .set_tasks(Some(tasks))
                .send()
                .await
                .expect("GetTaskProtection");
            let protected: Vec<(String, bool, bool)> = out
                .protected_tasks()
                .iter()
                .map(|p| {
                    (
                        p.task_arn().unwrap_or_default().to_owned(),
                        p.protection_enabled(),
                        p.expiration_date().is_some(),
                    )
                })
                .collect();
            let failures: Vec<String> = out
                .failures()
                .iter()
                .map(|f| f.reason().unwrap_or_default().to_owned())
                .collect();
            (protected, failures)
        }
    };
    let (protected, failures) = read(vec![kept.clone(), other.clone()]).await;
    assert_eq!(
        protected,
        [(kept.clone(), true, true), (other.clone(), false, false)]
    );
    assert!(failures.is_empty());
    assert!(strict.is_protected(&kept) && !strict.is_protected(&other));

    // It lapses at its expiry, on the proxy's clock.
    strict.advance(Duration::from_secs(61 * 60));
    assert_eq!(
        read(vec![kept.clone()]).await.0,
        [(kept.clone(), false, false)]
    );
    assert!(!strict.is_protected(&kept));

    // Set again without an expiry (120 minutes), then removed.
    via.update_task_protection()
        .cluster("prot")
        .tasks(&kept)
        .protection_enabled(true)
        .send()
        .await
        .expect("protect");
    strict.advance(Duration::from_secs(119 * 60));
    assert!(strict.is_protected(&kept));
    via.update_task_protection()
        .cluster("prot")
        .tasks(&kept)
        .protection_enabled(false)
        .send()
        .await
        .expect("unprotect");
    assert!(!strict.is_protected(&kept));

    // A stopped task and an unknown one are failures; more than 10 tasks is refused.
    bed.ecs()
        .stop_task()
        .cluster("prot")
        .task(&other)
        .send()
        .await
        .expect("stop");
    let unknown = "arn:aws:ecs:us-east-1:123456789012:task/prot/0000".to_owned();
    let (protected, failures) = read(vec![other.clone(), unknown]).await;
    assert!(protected.is_empty(), "{protected:?}");
    assert_eq!(failures, ["TASK_NOT_VALID", "MISSING"]);
    let refused = via
        .get_task_protection()
        .cluster("prot")
        .set_tasks(Some(vec![kept.clone(); 11]))
        .send()
        .await
        .expect_err("11 tasks");
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidParameterException")
    );
}
