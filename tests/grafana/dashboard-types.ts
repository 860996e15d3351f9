// The types a joules dashboard must satisfy, from @grafana/schema (the generated types Grafana
// itself builds its dashboard model from). dashboard.gen.ts, written by dashboard-ts.mjs from the
// JSON, checks the dashboard as an object literal with `satisfies`, so TypeScript rejects any
// field the schema does not have (excess property checks) and any value of the wrong type.
import type { DataQuery, Dashboard, FieldConfigSource, Panel } from '@grafana/schema';
import type {
  FieldConfig as TimeSeriesFieldConfig,
  Options as TimeSeriesOptions,
} from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { Options as StatOptions } from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';

// JSON has no TypeScript enums: a string enum member is written as its value ("multi" for
// TooltipDisplayMode.Multi), so every string enum is replaced by the union of its values.
// Numeric enums already accept their numbers.
export type Json<T> = T extends string
  ? `${T}`
  : T extends ReadonlyArray<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

// A Prometheus query: @grafana/schema types only DataQuery's common fields; these are the ones
// Grafana's Prometheus data source reads (public/app/plugins/datasource/prometheus's PromQuery).
export interface PrometheusQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
  exemplar?: boolean;
  editorMode?: 'code' | 'builder';
}

type PanelBase = Omit<Json<Panel>, 'type' | 'options' | 'fieldConfig' | 'targets'> & {
  targets: Array<Json<PrometheusQuery>>;
};

export type TimeSeriesPanel = PanelBase & {
  type: 'timeseries';
  options: Json<TimeSeriesOptions>;
  fieldConfig: Json<FieldConfigSource<TimeSeriesFieldConfig>>;
};

export type StatPanel = PanelBase & {
  type: 'stat';
  options: Json<StatOptions>;
  fieldConfig: Json<FieldConfigSource>;
};

export type JoulesDashboard = Omit<Json<Dashboard>, 'panels'> & {
  panels: Array<TimeSeriesPanel | StatPanel>;
};

// The plain schema, without the panel plugins' types, for a second check.
export type SchemaDashboard = Json<Dashboard>;
