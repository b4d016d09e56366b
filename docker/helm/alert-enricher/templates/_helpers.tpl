{{/* The chart's name, or nameOverride. */}}
{{- define "alert-enricher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of the release's objects: the release name when it already contains the chart's name (a release called
alert-enricher gives the same names as docker/kubernetes), else <release>-<chart>; or fullnameOverride.
*/}}
{{- define "alert-enricher.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "alert-enricher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alert-enricher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "alert-enricher.labels" -}}
{{ include "alert-enricher.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The Secret the pods read: existingSecret, or the one the chart creates. */}}
{{- define "alert-enricher.secretName" -}}
{{- default (include "alert-enricher.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The alertname regex Alertmanager routes here: the shipped playbooks' alerts (the list docker/alertmanager keeps equal to rules/), or alertmanagerConfig.alertnameRegex. */}}
{{- define "alert-enricher.alertnameRegex" -}}
{{- if .Values.alertmanagerConfig.alertnameRegex }}
{{- .Values.alertmanagerConfig.alertnameRegex }}
{{- else }}
{{- $example := .Files.Get "files/alertmanagerconfig.yaml" | fromYaml }}
{{- (index $example.spec.route.matchers 0).value }}
{{- end }}
{{- end }}

{{/* The in-cluster URL Alertmanager posts to. */}}
{{- define "alert-enricher.webhookUrl" -}}
{{- printf "http://%s.%s.svc:%d/alerts" (include "alert-enricher.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{/* Settings the chart cannot leave to the schema, stopped with a message naming the fix. */}}
{{- define "alert-enricher.validate" -}}
{{- if and (eq .Values.store.type "postgres") (not .Values.existingSecret) (not .Values.secret.DATABASE_URL) }}
{{- fail "store.type=postgres needs DATABASE_URL: set secret.DATABASE_URL (postgres://user:password@host:5432/db), or existingSecret naming a Secret with a DATABASE_URL key" }}
{{- end }}
{{- if and (eq .Values.store.type "sqlite") .Values.secret.DATABASE_URL }}
{{- fail "secret.DATABASE_URL is set but store.type is sqlite (the store is the volume's sqlite:/data/enricher.db): set store.type=postgres, or remove secret.DATABASE_URL" }}
{{- end }}
{{- range $name := list "PORT" "HOST" "DATABASE_URL" }}
{{- if hasKey $.Values.config $name }}
{{- fail (printf "config.%s is the chart's: PORT and HOST are fixed (the Service port is service.port), DATABASE_URL follows store.type (sqlite on the volume, postgres from the Secret)" $name) }}
{{- end }}
{{- end }}
{{- range $name, $_ := .Values.config }}
{{- if not (regexMatch "^[A-Z][A-Z0-9_]*$" $name) }}
{{- fail (printf "config.%s is not an environment variable name (capitals, digits and _, as README.md \"Configuration\" lists them)" $name) }}
{{- end }}
{{- if hasKey $.Values.secret $name | or (has $name (list "WEBHOOK_BEARER_TOKEN" "WEBHOOK_BASIC_AUTH" "SLACK_WEBHOOK_URL" "SLACK_BOT_TOKEN" "PAGERDUTY_ROUTING_KEY" "PAGERDUTY_API_TOKEN" "PROMETHEUS_BEARER_TOKEN")) }}
{{- fail (printf "config.%s is a credential: put it in secret.%s (or in existingSecret), which the chart keeps in a Secret, not a ConfigMap" $name $name) }}
{{- end }}
{{- end }}
{{- if and .Values.readSecrets.enabled (not .Values.readSecrets.names) }}
{{- fail "readSecrets.enabled needs readSecrets.names: the Secrets it may get, by name (never all Secrets of the namespace)" }}
{{- end }}
{{- end }}
