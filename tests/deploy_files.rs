//! The deployment files, checked as far as a machine without a container
//! engine can: each parses; each container runs a command line the binary
//! accepts, with a configuration and environment `newsflow config check`
//! accepts; stateful stages keep their data directory on a volume; metrics
//! ports match what the configuration serves; the Dockerfile builds and
//! starts newsflow the way the README says.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde::Deserialize;
use serde_yaml_ng::Value;

const STAGES: [&str; 4] = ["fetcher", "cleaner", "dedup", "clusterer"];
const STATEFUL: [&str; 3] = ["fetcher", "dedup", "clusterer"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The binary with exactly `env` as its `NEWSFLOW_*` environment.
fn newsflow(args: &[&str], env: &BTreeMap<String, String>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(newsflow_binary());
    command
        .current_dir(dir.path())
        .args(args)
        .stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NEWSFLOW_") {
            command.env_remove(name);
        }
    }
    command.envs(env);
    command.output().unwrap()
}

/// Every YAML document in a file (merge keys applied).
fn yaml_documents(path: &Path) -> Vec<Value> {
    let source = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&source)
        .map(|document| {
            let mut value = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            value.apply_merge().unwrap();
            value
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The command line is one the binary accepts: the same arguments followed
/// by `--help` parse (clap refuses an unknown flag or value before it
/// reaches `--help`).
fn assert_cli_accepts(args: &[String], what: &str) {
    let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
    with_help.push("--help");
    let out = newsflow(&with_help, &BTreeMap::new());
    assert!(
        out.status.success(),
        "{what}: `newsflow {}` is not a valid command line: {}",
        args.join(" "),
        text(&out.stderr)
    );
}

/// The configuration a container runs with, as `config show` reads it;
/// fails when `config check` refuses it.
fn effective_config(
    config: &Path,
    env: &BTreeMap<String, String>,
    what: &str,
) -> serde_json::Value {
    let config = config.display().to_string();
    let out = newsflow(&["config", "check", "--config", &config], env);
    assert!(
        out.status.success(),
        "{what}: the configuration is refused: {}",
        text(&out.stderr)
    );
    let out = newsflow(
        &["config", "show", "--config", &config, "--format", "json"],
        env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    shown["settings"].clone()
}

fn port_of(listen: &serde_json::Value) -> u16 {
    let address: std::net::SocketAddr = listen
        .as_str()
        .expect("operator_listen is set")
        .parse()
        .unwrap();
    address.port()
}

/// The `--config FILE` of a `newsflow run` command line.
fn config_flag(args: &[String]) -> String {
    let at = args
        .iter()
        .position(|a| a == "--config")
        .expect("the command names its configuration");
    args[at + 1].clone()
}

fn stage_flag(args: &[String]) -> String {
    let at = args
        .iter()
        .position(|a| a == "--stage")
        .expect("one stage per container");
    args[at + 1].clone()
}

#[test]
fn compose_stack_runs_each_stage_on_kraft_kafka_with_prometheus() {
    let dir = repo_path("deploy/compose");
    let compose = &yaml_documents(&dir.join("compose.yaml"))[0];
    let services = compose["services"].as_mapping().unwrap();
    let declared_volumes: Vec<String> = compose["volumes"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();

    // Kafka in KRaft mode (no ZooKeeper), and the topics made by the script.
    let kafka = &compose["services"]["kafka"];
    assert!(kafka["image"]
        .as_str()
        .unwrap()
        .starts_with("apache/kafka:"));
    assert!(kafka["environment"]["KAFKA_PROCESS_ROLES"]
        .as_str()
        .unwrap()
        .contains("controller"));
    assert!(services
        .keys()
        .all(|name| !name.as_str().unwrap().contains("zookeeper")));
    let topics = &compose["services"]["create-topics"];
    let entrypoint = strings(&topics["entrypoint"]).join(" ");
    assert!(entrypoint.contains("create-topics.sh"), "{entrypoint}");
    let script_mount = strings(&topics["volumes"])
        .into_iter()
        .find(|v| v.contains("create-topics.sh"))
        .expect("the script is mounted");
    let source = script_mount.split(':').next().unwrap();
    assert!(dir.join(source).is_file(), "{source} exists");
    let kafka_tools = topics["environment"]["KAFKA_TOPICS"].as_str().unwrap();
    assert!(
        kafka_tools.starts_with("/opt/kafka/bin/"),
        "the image's kafka-topics.sh"
    );

    let mut scraped = Vec::new();
    let prometheus = &yaml_documents(&dir.join("prometheus.yml"))[0];
    for job in prometheus["scrape_configs"].as_sequence().unwrap() {
        for config in job["static_configs"].as_sequence().unwrap() {
            scraped.extend(strings(&config["targets"]));
        }
    }
    let prometheus_service = &compose["services"]["prometheus"];
    assert!(strings(&prometheus_service["volumes"])
        .iter()
        .any(|v| v.starts_with("./prometheus.yml:")));

    for stage in STAGES {
        let service = &compose["services"][stage];
        let what = format!("compose service {stage}");
        let command = strings(&service["command"]);
        assert_eq!(command[0], "run", "{what}");
        assert_eq!(stage_flag(&command), stage, "{what}");
        assert_cli_accepts(&command, &what);
        assert!(
            service["build"]["context"].as_str().is_some(),
            "{what} builds the image"
        );
        assert!(repo_path(service["build"]["dockerfile"].as_str().unwrap()).is_file());

        // The file the command names is mounted from the repository.
        let mounts: Vec<(String, String)> = strings(&service["volumes"])
            .iter()
            .map(|v| {
                let mut parts = v.split(':');
                (
                    parts.next().unwrap().to_string(),
                    parts.next().unwrap().to_string(),
                )
            })
            .collect();
        let config_in_container = config_flag(&command);
        let (config_source, _) = mounts
            .iter()
            .find(|(_, target)| *target == config_in_container)
            .unwrap_or_else(|| panic!("{what}: {config_in_container} is not mounted"));
        for (source, _) in &mounts {
            if source.starts_with('.') {
                assert!(dir.join(source).exists(), "{what}: {source} does not exist");
            } else {
                assert!(
                    declared_volumes.contains(source),
                    "{what}: volume {source} not declared"
                );
            }
        }
        let env: BTreeMap<String, String> = service["environment"]
            .as_mapping()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().unwrap().to_string(),
                            v.as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let settings = effective_config(&dir.join(config_source), &env, &what);
        assert_eq!(settings["bus"]["kind"], "kafka", "{what}");
        assert_eq!(settings["bus"]["kafka"]["brokers"], "kafka:9092", "{what}");

        // State lives on a named volume at the data directory.
        let data_dir = settings["data_dir"].as_str().unwrap();
        if STATEFUL.contains(&stage) {
            assert!(
                mounts.iter().any(|(source, target)| target == data_dir && declared_volumes.contains(source)),
                "{what}: {data_dir} is not on a volume"
            );
        }
        if stage == "fetcher" {
            let feeds = settings["feeds"].as_str().unwrap();
            assert!(
                mounts.iter().any(|(_, target)| target == feeds),
                "{what}: {feeds} not mounted"
            );
        }
        // Prometheus scrapes the port the stage serves its metrics on.
        let target = format!("{stage}:{}", port_of(&settings["operator_listen"]));
        assert!(
            scraped.contains(&target),
            "prometheus does not scrape {target}: {scraped:?}"
        );
    }
}

/// One Kubernetes object per kind and name.
fn k8s_objects() -> BTreeMap<(String, String), Value> {
    let mut objects = BTreeMap::new();
    let dir = repo_path("deploy/k8s");
    let kustomization = &yaml_documents(&dir.join("kustomization.yaml"))[0];
    let listed = strings(&kustomization["resources"]);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "kustomization.yaml" {
            continue;
        }
        assert!(
            listed.contains(&name),
            "{name} is not in kustomization.yaml"
        );
        for object in yaml_documents(&path) {
            let kind = object["kind"].as_str().unwrap().to_string();
            let object_name = object["metadata"]["name"].as_str().unwrap().to_string();
            assert!(
                object["apiVersion"].as_str().is_some(),
                "{kind} {object_name}"
            );
            objects.insert((kind, object_name), object);
        }
    }
    objects
}

#[test]
fn kubernetes_manifests_run_each_stage_with_its_state_and_metrics() {
    let objects = k8s_objects();
    let get = |kind: &str, name: &str| {
        objects
            .get(&(kind.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let config_map = get("ConfigMap", "newsflow-config");
    let config_dir = tempfile::tempdir().unwrap();
    for (key, value) in config_map["data"].as_mapping().unwrap() {
        std::fs::write(
            config_dir.path().join(key.as_str().unwrap()),
            value.as_str().unwrap(),
        )
        .unwrap();
    }

    for stage in STAGES {
        let name = format!("newsflow-{stage}");
        let (kind, workload) = match stage {
            "fetcher" | "cleaner" => ("Deployment", get("Deployment", &name)),
            _ => ("StatefulSet", get("StatefulSet", &name)),
        };
        let what = format!("{kind} {name}");
        let pod = &workload["spec"]["template"];
        let labels = pod["metadata"]["labels"].as_mapping().unwrap();
        let selector = workload["spec"]["selector"]["matchLabels"]
            .as_mapping()
            .unwrap();
        assert!(
            selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{what}: selector"
        );
        let container = &pod["spec"]["containers"][0];
        let args = strings(&container["args"]);
        assert_eq!(stage_flag(&args), stage, "{what}");
        assert_cli_accepts(&args, &what);

        // Mounted configuration files exist in the ConfigMap.
        let mounts: Vec<(String, String)> = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    m["mountPath"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let config_file = PathBuf::from(config_flag(&args));
        let config_mount = mounts
            .iter()
            .find(|(_, path)| config_file.starts_with(path))
            .unwrap_or_else(|| panic!("{what}: {} not mounted", config_file.display()));
        let volumes = pod["spec"]["volumes"].as_sequence().unwrap();
        let config_volume = volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(&config_mount.0))
            .unwrap();
        assert_eq!(
            config_volume["configMap"]["name"], "newsflow-config",
            "{what}"
        );
        let local_config = config_dir
            .path()
            .join(config_file.strip_prefix(&config_mount.1).unwrap());
        assert!(
            local_config.is_file(),
            "{what}: the ConfigMap has no {}",
            config_file.display()
        );

        let env: BTreeMap<String, String> = container["env"]
            .as_sequence()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        (
                            e["name"].as_str().unwrap().to_string(),
                            e["value"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let settings = effective_config(&local_config, &env, &what);
        assert_eq!(settings["bus"]["kind"], "kafka", "{what}");
        if stage == "fetcher" {
            let feeds = PathBuf::from(settings["feeds"].as_str().unwrap());
            let in_map = config_dir
                .path()
                .join(feeds.strip_prefix(&config_mount.1).unwrap());
            assert!(
                in_map.is_file(),
                "{what}: the feed list is not in the ConfigMap"
            );
        }

        // The data directory is a volume: a claim per pod for the
        // StatefulSets, which keep their state across restarts.
        let data_dir = settings["data_dir"].as_str().unwrap();
        let data_volume = &mounts
            .iter()
            .find(|(_, path)| path == data_dir)
            .unwrap_or_else(|| panic!("{what}: {data_dir} is not mounted"))
            .0;
        if kind == "StatefulSet" {
            let claims = workload["spec"]["volumeClaimTemplates"]
                .as_sequence()
                .unwrap();
            assert!(
                claims
                    .iter()
                    .any(|c| c["metadata"]["name"].as_str() == Some(data_volume)),
                "{what}: {data_dir} is not on a volume claim"
            );
            assert_eq!(workload["spec"]["serviceName"], name.as_str(), "{what}");
        } else {
            assert!(volumes
                .iter()
                .any(|v| v["name"].as_str() == Some(data_volume)));
        }

        // The metrics port is the one the configuration serves, and a
        // Service and a PodDisruptionBudget select these pods.
        let port = port_of(&settings["operator_listen"]);
        let container_port = container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "metrics")
            .unwrap_or_else(|| panic!("{what}: no metrics port"));
        assert_eq!(
            container_port["containerPort"].as_u64(),
            Some(u64::from(port)),
            "{what}"
        );
        for probe in ["livenessProbe", "readinessProbe"] {
            assert_eq!(
                container[probe]["httpGet"]["port"], "metrics",
                "{what} {probe}"
            );
        }
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/health");
        let service = get("Service", &name);
        let service_selector = service["spec"]["selector"].as_mapping().unwrap();
        assert!(
            service_selector
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v)),
            "{name} Service"
        );
        assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
        let budget = get("PodDisruptionBudget", &name);
        let budget_selector = budget["spec"]["selector"]["matchLabels"]
            .as_mapping()
            .unwrap();
        assert!(
            budget_selector
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v)),
            "{name} PDB"
        );

        // Not root.
        assert_eq!(
            pod["spec"]["securityContext"]["runAsNonRoot"], true,
            "{what}"
        );
    }
}

/// The instructions of a Dockerfile, continuation lines joined.
fn dockerfile_instructions(path: &Path) -> Vec<(String, String)> {
    let source = std::fs::read_to_string(path).unwrap();
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                if let Some((word, rest)) = current.trim().split_once(char::is_whitespace) {
                    instructions.push((word.to_ascii_uppercase(), rest.trim().to_string()));
                }
                current.clear();
            }
        }
    }
    instructions
}

#[test]
fn dockerfile_builds_and_starts_newsflow_as_the_readme_says() {
    let instructions = dockerfile_instructions(&repo_path("Dockerfile"));
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let of = |word: &str| -> Vec<String> {
        instructions
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, rest)| rest.clone())
            .collect()
    };

    // Multi-stage: a build stage, then a slim runtime.
    let stages = of("FROM");
    assert!(stages.len() >= 2, "{stages:?}");
    assert!(stages.last().unwrap().contains("slim"), "{stages:?}");

    // The build command is the README's own.
    let build = of("RUN")
        .into_iter()
        .find(|run| run.contains("cargo build"))
        .expect("the image builds with cargo");
    let cargo_build = build.split("&&").next().unwrap().trim().to_string();
    assert!(
        readme.contains(&cargo_build),
        "the README does not show the Dockerfile's build command `{cargo_build}`"
    );
    for command in [
        "docker build -t newsflow .",
        "docker compose -f deploy/compose/compose.yaml up",
        "kubectl apply -k deploy/k8s",
    ] {
        assert!(
            readme.contains(command),
            "the README does not show `{command}`"
        );
    }

    // Not root in the runtime stage.
    let user = of("USER").pop().expect("the runtime sets a user");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "{user}"
    );

    // It starts newsflow with a command line and configuration it accepts.
    let parse_exec = |text: &str| -> Vec<String> { serde_json::from_str(text).expect("exec form") };
    let entrypoint = parse_exec(&of("ENTRYPOINT").pop().unwrap());
    assert_eq!(entrypoint, ["newsflow"]);
    let command = parse_exec(&of("CMD").pop().unwrap());
    assert_cli_accepts(&command, "Dockerfile CMD");
    let config = config_flag(&command);
    let copied = of("COPY")
        .into_iter()
        .find(|copy| copy.ends_with(&config))
        .unwrap_or_else(|| panic!("the image does not contain {config}"));
    let source = copied.split_whitespace().next().unwrap();
    let settings = effective_config(
        &repo_path(source),
        &BTreeMap::new(),
        "the image's configuration",
    );
    let expose = of("EXPOSE").pop().unwrap();
    assert_eq!(
        expose.trim().parse::<u16>().unwrap(),
        port_of(&settings["operator_listen"])
    );
    let feeds = settings["feeds"].as_str().unwrap();
    assert!(
        of("COPY").iter().any(|copy| copy.ends_with(feeds)),
        "the image lacks {feeds}"
    );
    let volume = of("VOLUME").pop().unwrap();
    assert!(
        volume.contains(settings["data_dir"].as_str().unwrap()),
        "{volume}"
    );
    // The binary is copied from the build stage to the path the entrypoint finds.
    assert!(of("COPY")
        .iter()
        .any(|c| c.starts_with("--from=") && c.ends_with("/usr/local/bin/newsflow")));
}

#[test]
fn systemd_units_start_commands_the_binary_accepts() {
    for unit in ["newsflow.service", "newsflow-stage@.service"] {
        let source = std::fs::read_to_string(repo_path(&format!("deploy/systemd/{unit}"))).unwrap();
        let exec = source
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let args: Vec<String> = exec
            .split_whitespace()
            .skip(1)
            .map(|a| a.replace("%i", "dedup"))
            .collect();
        assert_cli_accepts(&args, unit);
        let env: BTreeMap<String, String> = source
            .lines()
            .filter_map(|l| l.strip_prefix("Environment="))
            .map(|assignment| {
                let (name, value) = assignment.split_once('=').unwrap();
                (name.to_string(), value.replace("%i", "dedup"))
            })
            .collect();
        let config = match unit {
            "newsflow.service" => repo_path("config/newsflow.toml"),
            _ => repo_path("deploy/kafka/newsflow-kafka.toml"),
        };
        effective_config(&config, &env, unit);
    }
}
