{{- define "data-registry.namespace" -}}
{{- .Values.namespace | default .Release.Namespace -}}
{{- end -}}

{{- /* repository:tag[@digest]; the tag is required (the commit sha the images workflow built). */ -}}
{{- define "data-registry.imageRef" -}}
{{- $tag := required (printf "%s.tag is required: set it to the commit sha the images workflow built (see values-images.yaml)" .name) .image.tag -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- with .image.digest }}@{{ . }}{{ end -}}
{{- end -}}

{{- define "data-registry.image" -}}
{{- include "data-registry.imageRef" (dict "name" "image" "image" .Values.image) -}}
{{- end -}}

{{- define "data-registry.rayImage" -}}
{{- include "data-registry.imageRef" (dict "name" "rayImage" "image" .Values.rayImage) -}}
{{- end -}}

{{- define "data-registry.serviceAccountName" -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}

{{- /* The write key Secret the publish step mounts (optional only when none is configured: HTTPS). */ -}}
{{- define "data-registry.gitSshSecret" -}}
{{- .Values.git.sshSecret.name | default "data-registry-git-ssh" -}}
{{- end -}}

{{- define "data-registry.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: data-registry
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
