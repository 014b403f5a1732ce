// The kubelet API messages as proto-loader hands them over (keepCase: proto field names).
// Only the fields tsvpp reads or writes.

// deviceplugin v1beta1
export interface DevicePluginOptions { pre_start_required: boolean; get_preferred_allocation_available: boolean }
export interface RegisterRequest { version: string; endpoint: string; resource_name: string; options?: DevicePluginOptions }
export interface Device { ID: string; health: 'Healthy' | 'Unhealthy' | string; topology?: { nodes: Array<{ ID: number }> } | null }
export interface ListAndWatchResponse { devices: Device[] }
export interface ContainerAllocateRequest { devices_ids: string[] }
export interface AllocateRequest { container_requests: ContainerAllocateRequest[] }
export interface Mount { container_path: string; host_path: string; read_only: boolean }
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: Array<{ container_path: string; host_path: string; permissions: string }>;
  annotations: Record<string, string>;
  cdi_devices?: Array<{ name: string }>;
}
export interface AllocateResponse { container_responses: ContainerAllocateResponse[] }

// podresources v1
export interface ContainerDevices { resource_name: string; device_ids: string[] }
export interface ContainerResources { name: string; devices: ContainerDevices[] }
export interface PodResources { name: string; namespace: string; containers: ContainerResources[] }
export interface ListPodResourcesResponse { pod_resources: PodResources[] }
export interface GetPodResourcesRequest { pod_name: string; pod_namespace: string }
export interface GetPodResourcesResponse { pod_resources: PodResources | null }
