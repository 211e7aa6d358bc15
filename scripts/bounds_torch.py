from dnnfi import runlog
from dnnfi.campaign import bounds_job
from dnnfi.torchfi.activations import injector_factory

log = runlog.start(snakemake.log[0])
bounds, fault_free = bounds_job(snakemake, injector_factory(snakemake.input.model, precision=snakemake.params.model["precision"],
                                                         device=snakemake.params.device))
log.info("bounds of %d sites; fault-free top-1 changed on %d of %d images", len(bounds),
         (fault_free["top1_unprotected"] != fault_free["top1_protected"]).sum(), len(fault_free))
fault_free.to_parquet(snakemake.output.fault_free)
