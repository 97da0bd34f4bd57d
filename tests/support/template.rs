//! Settings read from `template.yaml`, so what is tested is what is deployed.

use serde_yaml::Value;
use tidings::domain::retry::RetrySchedule;
use tidings_aws::sdk::QueueSettings;

pub struct Template(Value);

impl Template {
    pub fn load() -> Self {
        let text = super::read_repo_file("template.yaml");
        Self(serde_yaml::from_str(&text).expect("template.yaml is valid YAML"))
    }

    pub fn resource(&self, name: &str) -> &Value {
        let r = &self.0["Resources"][name];
        assert!(!r.is_null(), "template.yaml has no resource {name}");
        r
    }

    /// The names of the resources of `resource_type`, in the template's order.
    pub fn resources_of(&self, resource_type: &str) -> Vec<String> {
        self.0["Resources"]
            .as_mapping()
            .expect("template.yaml has resources")
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(resource_type))
            .map(|(name, _)| name.as_str().unwrap().to_owned())
            .collect()
    }

    /// A resource's type, if the template declares it.
    pub fn resource_type(&self, name: &str) -> Option<&str> {
        self.0["Resources"][name]["Type"].as_str()
    }

    /// A parameter's declaration.
    pub fn parameter(&self, name: &str) -> &Value {
        let p = &self.0["Parameters"][name];
        assert!(!p.is_null(), "template.yaml has no parameter {name}");
        p
    }

    /// A condition's declaration.
    pub fn condition(&self, name: &str) -> &Value {
        let c = &self.0["Conditions"][name];
        assert!(!c.is_null(), "template.yaml has no condition {name}");
        c
    }

    /// Every resource, by its logical name.
    pub fn resources(&self) -> impl Iterator<Item = (&Value, &Value)> {
        self.0["Resources"]
            .as_mapping()
            .expect("template.yaml has Resources")
            .iter()
    }

    pub fn properties(&self, name: &str) -> &Value {
        &self.resource(name)["Properties"]
    }

    /// A global environment variable of the functions.
    pub fn env(&self, name: &str) -> String {
        self.0["Globals"]["Function"]["Environment"]["Variables"][name]
            .as_str()
            .unwrap_or_else(|| panic!("template.yaml sets no {name}"))
            .to_owned()
    }

    /// A global environment variable of the functions, as written (`!GetAtt …` included).
    pub fn env_value(&self, name: &str) -> &Value {
        let value = &self.0["Globals"]["Function"]["Environment"]["Variables"][name];
        assert!(!value.is_null(), "template.yaml sets no {name}");
        value
    }

    pub fn retry_schedule(&self) -> RetrySchedule {
        self.env("TIDINGS_RETRY_SCHEDULE")
            .parse()
            .expect("the template's retry schedule parses")
    }

    pub fn queue_settings(&self) -> QueueSettings {
        let queue = self.properties("DeliveriesQueue");
        QueueSettings {
            visibility_timeout_secs: number(&queue["VisibilityTimeout"]),
            max_receive_count: number(&queue["RedrivePolicy"]["maxReceiveCount"]),
        }
    }

    /// A function's timeout in seconds, or the global one.
    pub fn function_timeout(&self, name: &str) -> u32 {
        let own = &self.properties(name)["Timeout"];
        if own.is_null() {
            number(&self.0["Globals"]["Function"]["Timeout"])
        } else {
            number(own)
        }
    }
}

/// A YAML number, or a number written as a string.
pub fn number(value: &Value) -> u32 {
    match value {
        Value::Number(n) => n.as_u64().expect("a whole number") as u32,
        Value::String(s) => s.parse().expect("a whole number"),
        other => panic!("expected a number, found {other:?}"),
    }
}

/// What an intrinsic function names: `!Ref X` is `("Ref", "X")`, `!GetAtt X.Y` is
/// `("GetAtt", "X.Y")`, `!Sub "…"` is `("Sub", "…")`; `None` for a plain value.
pub fn intrinsic(value: &Value) -> Option<(String, &str)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            tagged.value.as_str()?,
        )),
        _ => None,
    }
}

/// The functions' global environment variables, values as written (intrinsics included).
pub fn globals_env(t: &Template) -> &Value {
    &t.0["Globals"]["Function"]["Environment"]["Variables"]
}
