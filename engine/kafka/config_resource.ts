// Kafka's config resource types (DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs) and config sources, as far as this broker has them.

export const ConfigResourceType = { Topic: 2, Broker: 4 } as const;

/** DescribeConfigs' config_source: every topic setting shows as a default (its effective value). */
export const CONFIG_SOURCE_DEFAULT = 5;
