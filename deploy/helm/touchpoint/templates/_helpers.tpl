{{/* The chart's processes: values key -> component name. */}}
{{- define "touchpoint.components" -}}
ingest: ingest
profileApi: profile-api
profileConsumer: profile-consumer
metricsApi: metrics-api
metricsConsumer: metrics-consumer
{{- end -}}

{{- define "touchpoint.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "touchpoint.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "touchpoint.labels" -}}
{{ include "touchpoint.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: touchpoint
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "touchpoint.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "touchpoint.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "touchpoint.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{- define "touchpoint.databaseSecretName" -}}
{{ .Values.database.existingSecret | default (printf "%s-database" (include "touchpoint.fullname" .)) }}
{{- end -}}

{{/* The settings every process reads, as a string map (the ConfigMap's data). */}}
{{- define "touchpoint.settings" -}}
TOUCHPOINT_KAFKA_BOOTSTRAP: {{ .Values.config.kafkaBootstrap | quote }}
TOUCHPOINT_KAFKA_IDEMPOTENCE: {{ .Values.config.kafkaIdempotence | toString | quote }}
TOUCHPOINT_KAFKA_REPLICATION: {{ .Values.config.kafkaReplication | toString | quote }}
TOUCHPOINT_KAFKA_PARTITIONS: {{ .Values.config.kafkaPartitions | toString | quote }}
TOUCHPOINT_KAFKA_SEND_TIMEOUT_S: {{ .Values.config.kafkaSendTimeoutSeconds | toString | quote }}
TOUCHPOINT_TOPIC_PREFIX: {{ .Values.config.topicPrefix | quote }}
TOUCHPOINT_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
TOUCHPOINT_LOG_JSON: {{ .Values.config.logJson | toString | quote }}
TOUCHPOINT_DB_POOL_SIZE: {{ .Values.config.dbPoolSize | toString | quote }}
TOUCHPOINT_METRICS_PORT: {{ .Values.consumerMetricsPort | toString | quote }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The database URL from the Secret, as a container env entry. */}}
{{- define "touchpoint.databaseEnv" -}}
- name: TOUCHPOINT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "touchpoint.databaseSecretName" . }}
      key: {{ .Values.database.existingSecretKey }}
{{- end -}}

{{- define "touchpoint.validate" -}}
{{- if and (not .Values.database.existingSecret) (not .Values.database.url) -}}
{{- fail "set database.existingSecret (preferred) or database.url" -}}
{{- end -}}
{{- end -}}
